"""Data loading, phantom generation and DICOM I/O: part of the core, shared by every stage.

``dicom`` reads one DICOM series (HU for CT), ``pairs`` lists and loads co-registered CT/MR slice pairs,
``transforms`` holds the pure array transforms (HU/MR <-> [0, 1] <-> [-1, 1], fit to the model grid),
``splits`` makes patient-level splits and hashed manifests, ``slices`` holds the splits in memory
(:class:`~sccg_edge.data.slices.SliceSet`) with their resumable batch order, ``register`` aligns a pair's CT onto
its MR, ``inspect`` summarises a data path.
"""
