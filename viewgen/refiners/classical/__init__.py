"""The weight-free refiner: classical hole filling (OpenCV inpainting, a sky model, a ground-plane
disparity prior), detail re-synthesis, and texture fixed to the 3D surface; no learned weights."""
