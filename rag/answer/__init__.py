"""Answer components: turn retrieved passages into an Answer with `[n]` citations."""

ABSTAIN_TEXT = "I could not find this in the documents."
RELATED_TEXT = "The documents do not state this directly. These passages are the closest to your question."
