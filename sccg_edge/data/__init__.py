"""Data loading, phantom generation and DICOM I/O.

``dicom`` reads one DICOM series (HU for CT), ``pairs`` lists and loads co-registered CT/MR slice pairs,
``transforms`` holds the pure array transforms (HU/MR <-> [0, 1] <-> [-1, 1], fit to the model grid),
``splits`` makes patient-level splits and hashed manifests, ``inspect`` summarises a data path. Nothing is
imported here, so ``import sccg_edge.data`` stays cheap (pydicom is imported inside the functions that need it).
"""
