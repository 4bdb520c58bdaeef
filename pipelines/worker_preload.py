"""What every processing worker needs, loaded once in the fork server the workers are forked from.

See ``pipelines.batch._worker_context``: each worker then shares the processing modules,
langdetect's profiles (slow to load, and some articles of every large share need them), the
bundled agency table's patterns and datasketch (with numpy and scipy) for the story features
every record gets. Imported there only: importing it loads all of that.
"""

import datasketch  # noqa: F401  imported by dedup only where a signature is made

from pipelines import batch  # noqa: F401  the stages and every module they import
from pipelines.attribution import load_gazetteer
from pipelines.language import load_profiles

load_gazetteer()
load_profiles()
