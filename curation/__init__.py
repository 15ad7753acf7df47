"""curation: the datatrove pipeline that turns raw chat/preference/RL inputs into a curated folder."""
