// Kernel family: attention. (filled in by its owner)
