"""datacards: build, render and plot a stage output's datacard."""
