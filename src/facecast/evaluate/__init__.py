"""Stage evaluate: does the recast dataset still teach the labelled task? (downstream utility)."""
