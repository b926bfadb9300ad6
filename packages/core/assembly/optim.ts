// Kernel family: optim. (filled in by its owner)
