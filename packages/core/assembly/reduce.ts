// Kernel family: reduce. (filled in by its owner)
