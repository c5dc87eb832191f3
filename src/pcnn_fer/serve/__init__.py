"""The HTTP server: the Recognizer behind FastAPI, requests batched together on their way into the model."""
