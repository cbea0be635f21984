"""A TensorFlow-free reader and writer of TensorFlow V2 checkpoint bundles (index SSTable, CRC32C)."""
