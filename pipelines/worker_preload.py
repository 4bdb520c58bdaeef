"""What every processing worker needs, loaded once in the fork server the workers are forked from.

See ``pipelines.batch._worker_context``: each worker then shares the processing modules,
langdetect's profiles (slow to load, and some articles of every large share need them) and the
bundled agency table's patterns. Imported there only: importing it loads all of that.
"""

from pipelines import batch  # noqa: F401  the stages and every module they import
from pipelines.attribution import load_gazetteer
from pipelines.language import load_profiles

load_gazetteer()
load_profiles()
