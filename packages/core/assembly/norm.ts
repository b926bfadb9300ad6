// Kernel family: norm. (filled in by its owner)
