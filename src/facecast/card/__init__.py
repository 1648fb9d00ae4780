"""Stage card: the dataset card, DATASET_CARD.md, written last so it can tell everything the stages measured."""
