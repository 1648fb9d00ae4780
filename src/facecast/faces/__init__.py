"""Face analysis: detect (MTCNN), landmarks (dlib 68), head pose, track, embed (dlib 128-D)."""
