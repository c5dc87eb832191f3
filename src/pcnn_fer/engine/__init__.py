"""Training, evaluation, checkpoints and reports."""
