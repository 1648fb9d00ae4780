"""Stage card: data/dataset/DATASET_CARD.md, the document published with the dataset.

The work is ``facecast.card.stage.run``; ``-v`` says what it does."""

from facecast.runner import main

if __name__ == "__main__":
    main("card")
