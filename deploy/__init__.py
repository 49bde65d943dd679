"""Running a trained recogniser outside this framework and on new material: the ONNX export verified against
PyTorch, prediction through ONNX Runtime, long recordings in bounded memory and live streams."""
