// Kernel family: matmul. (filled in by its owner)
