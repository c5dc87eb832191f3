"""The five sense organs a PCNN reads, in the order of its organ heads (and of every organ field in a record)."""

ORGANS: tuple[str, ...] = ("left_eye", "right_eye", "left_cheek", "right_cheek", "mouth")
