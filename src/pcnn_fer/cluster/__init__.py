"""Expressions over a whole corpus of photos and videos on Ray: a pool of workers, each running the library's own
pipeline (the Recognizer, run_predictions, the record writers), shards written atomically, runs that resume.

Ray is an optional extra: `pip install "pcnn-fer[cluster]"`.
"""
