"""Frame-folder data loading: metadata, frame reading, augmentation, batching, synthetic corpus."""
