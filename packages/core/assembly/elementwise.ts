// Kernel family: elementwise. (filled in by its owner)
