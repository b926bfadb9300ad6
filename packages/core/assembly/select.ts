// Kernel family: select. (filled in by its owner)
