"""Who runs the model's forward pass, spelt once and torch-free, so that flags and settings can offer the choice."""

BACKENDS = ("torch", "onnx")  # what a Recognizer runs
BACKEND_CHOICES = ("auto", *BACKENDS)  # what from_pretrained and the commands take: auto picks the fastest safe one
