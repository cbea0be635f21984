"""Tiny Infinite Nature Zero weights for tests that fly it (the CLI, the web demo)."""


def tiny_zero_release(folder, disparity_bias: float, **settings):
    """A tiny random Infinite Nature Zero (16x16 frames) saved as a release folder; returns ``folder``.

    Every ToRGB's disparity bias is set to ``disparity_bias``: large and positive, every refined pixel
    is near, so the first frame fails the crash test (none of the expected sky is left).
    """
    import torch

    from viewgen.networks.stylegan2 import CoModGenerator, CoModGeneratorConfig
    from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroConfig, InfiniteNatureZeroPipeline
    from viewgen.refiners.stylegan import StyleGANRefinerConfig

    torch.manual_seed(0)
    generator = CoModGenerator(CoModGeneratorConfig(resolution=16, latent_dim=8, mapping_layers=2, channel_base=64,
                                                    style_channel_base=32, channel_max=8))
    with torch.no_grad():
        for name, parameter in generator.named_parameters():
            if name.endswith("ToRGB.bias"):
                parameter[0, 3] = disparity_bias
    config = InfiniteNatureZeroConfig(refiner=StyleGANRefinerConfig(mean_latent_samples=64), **settings)
    return InfiniteNatureZeroPipeline(generator, config).save_pretrained(folder)
