"""Answer components: turn retrieved passages into an Answer with `[n]` citations."""

ABSTAIN_TEXT = "I could not find this in the documents."
