"""mixlab: data-centric curation and a thin TRL trainer for post-training LLMs."""

__version__ = "0.1.0"
