//! ZKsync Era: commit calldata, pubdata and the Blake2s state tree.
