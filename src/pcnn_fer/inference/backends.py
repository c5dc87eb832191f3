"""Who runs the model's forward pass, spelt once and torch-free, so that flags and settings can offer the choice:
auto (onnxruntime where it is safe and faster, torch elsewhere), torch, or onnx (onnxruntime, insisted on)."""

BACKEND_CHOICES = ("auto", "torch", "onnx")
