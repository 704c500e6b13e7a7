"""automl"""
