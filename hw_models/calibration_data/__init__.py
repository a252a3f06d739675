"""Packaged calibration data (fitted models and the rows they were fitted on); JSON only."""
