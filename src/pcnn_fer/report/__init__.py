"""What a video's records say about each person in it: timelines of expression probabilities, summaries per
person, and one page that shows them beside the annotated video (`pcnn-fer report`)."""
