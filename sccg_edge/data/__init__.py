"""Data loading, phantom generation and DICOM I/O."""
