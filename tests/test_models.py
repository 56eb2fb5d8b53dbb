import pytest
import torch

from helpers.models import ReportCNN, ReportSegNet, count_parameters


def test_report_cnn_shape_and_parameters():
    model = ReportCNN()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    # conv 1*32*9+32, conv 32*64*9+64, fc 64*7*7*128+128, fc 128*10+10
    assert count_parameters(model) == 320 + 18_496 + 401_536 + 1_290 == 421_642


def test_report_cnn_pool_before_relu_is_the_reports_network():
    """The report orders each block Conv -> ReLU -> MaxPool; ReportCNN pools first.
    With the same weights, outputs and gradients must be the same."""
    torch.manual_seed(0)
    model, literal = ReportCNN(), ReportCNN(pool_first=False)
    literal.load_state_dict(model.state_dict())  # same parameter names
    assert [type(m).__name__ for m in model.features] == ["Conv2d", "MaxPool2d", "ReLU"] * 2
    assert [type(m).__name__ for m in literal.features] == ["Conv2d", "ReLU", "MaxPool2d"] * 2
    X = torch.randn(8, 1, 28, 28)
    out = model(X)
    assert torch.equal(out, literal(X))
    grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
    literal_grads = torch.autograd.grad(literal(X).square().sum(), list(literal.parameters()))
    for g, h in zip(grads, literal_grads):
        torch.testing.assert_close(g, h)


def test_report_segnet_shape_and_parameters():
    model = ReportSegNet(num_classes=5)
    assert model(torch.zeros(2, 3, 256, 256)).shape == (2, 5, 256, 256)
    expected = (3 * 32 * 9 + 32) + 2 * 32 \
        + (32 * 64 * 9 + 64) + 2 * 64 \
        + (64 * 64 * 9 + 64) + 2 * 64 \
        + (64 * 64 * 4 + 64) \
        + (64 * 32 * 9 + 32) + 2 * 32 \
        + (32 * 32 * 4 + 32) \
        + (32 * 5 * 9 + 5)
    assert count_parameters(model) == expected == 97_189
    # the corrected second batch norm has 64 channels (the report wrote 32)
    assert [m.num_features for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)] == [32, 64, 64, 32]


def test_strong_cnn_shape_and_parameters():
    from helpers.models import StrongCNN
    model = StrongCNN()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    convs = [(1, 32), (32, 64), (64, 64), (64, 64), (64, 128), (128, 128), (128, 128)]
    expected = sum(9 * a * b + 2 * b for a, b in convs) + 128 * 10  # conv (no bias) + BN, linear (no bias)
    assert count_parameters(model) == expected == 463_584
    # the stem at 28x28, then each stage pools once: 14x14 and 7x7 before the head
    sizes = []
    for layer in model.features:
        if isinstance(layer, torch.nn.Conv2d):
            layer.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:])))
    model(torch.zeros(1, 1, 28, 28))
    assert sizes == [(32, 28, 28), (64, 28, 28), (64, 14, 14), (64, 14, 14), (128, 14, 14), (128, 7, 7), (128, 7, 7)]


def _conv_output_sizes(model) -> list[tuple]:
    """The output shape (channels, height, width) of each convolution in ``model.features``,
    in order, on a batch of two 28x28 images; checks the logits' shape on the way."""
    sizes, hooks = [], []
    for layer in model.features:
        if isinstance(layer, torch.nn.Conv2d):
            hooks.append(layer.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:]))))
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    for hook in hooks:
        hook.remove()
    return sizes


def test_strong_cnn_pool_conv_transition_moves_the_convolutions_to_the_pooled_sizes():
    """The cheaper variant the benchmarks price: the same parameters, but every stage pools
    before its first convolution, so only the stem convolves at 28x28."""
    from helpers.models import StrongCNN
    model = StrongCNN(transition="pool-conv")
    assert count_parameters(model) == count_parameters(StrongCNN()) == 463_584
    assert _conv_output_sizes(model) == [(32, 28, 28), (64, 14, 14), (64, 14, 14), (64, 14, 14), (128, 7, 7),
                                         (128, 7, 7), (128, 7, 7)]
    with pytest.raises(ValueError, match="transition='pool-first'.*conv-pool, pool-conv, patch"):
        StrongCNN(transition="pool-first")


def test_strong_cnn_patch_transition_downsamples_with_strided_2x2_convolutions():
    """Each stage's first convolution is 2x2 with stride 2: it halves the map and sees
    every incoming pixel once; no max-pooling is left in the features."""
    from helpers.models import StrongCNN
    model = StrongCNN(transition="patch")
    # the two 3x3 transition convolutions (32*64*9, 64*128*9 weights) become 2x2 ones
    assert count_parameters(model) == 463_584 - (32 * 64 + 64 * 128) * (9 - 4) == 412_384
    assert not any(isinstance(layer, torch.nn.MaxPool2d) for layer in model.features)
    assert _conv_output_sizes(model) == [(32, 28, 28), (64, 14, 14), (64, 14, 14), (64, 14, 14), (128, 7, 7),
                                         (128, 7, 7), (128, 7, 7)]


def test_strong_cnn_residual_variant_adds_each_pair_of_convolutions_to_its_input():
    """The same parameters as the plain net; a pair whose last BN scales to zero passes
    its (non-negative) input through unchanged; an odd number of convolutions is refused."""
    from helpers.models import ResidualPair, StrongCNN
    model = StrongCNN(residual=True)
    assert count_parameters(model) == count_parameters(StrongCNN()) == 463_584
    pairs = [layer for layer in model.features if isinstance(layer, ResidualPair)]
    assert len(pairs) == 2 and model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    pair = ResidualPair(8).eval()
    X = torch.rand(2, 8, 5, 5)
    assert not torch.allclose(pair(X), X)
    torch.nn.init.zeros_(pair.body[-1].weight)
    torch.nn.init.zeros_(pair.body[-1].bias)
    assert torch.equal(pair(X), X)
    with pytest.raises(ValueError, match="convs_per_stage=3 must be even"):
        StrongCNN(convs_per_stage=3, residual=True)


def test_unet_shape_and_parameters():
    from helpers.models import UNet
    model = UNet(num_classes=5)
    assert model(torch.zeros(2, 3, 256, 256)).shape == (2, 5, 256, 256)
    assert model(torch.zeros(1, 3, 128, 128)).shape == (1, 5, 128, 128)  # trains on crops
    double = lambda a, b: 9 * a * b + 2 * b + 9 * b * b + 2 * b  # noqa: E731  two conv-BN layers
    down = double(3, 16) + double(16, 32) + double(32, 64) + double(64, 128)
    up = sum(4 * a * b + b + double(2 * b, b) for a, b in ((128, 64), (64, 32), (32, 16)))
    assert count_parameters(model) == down + up + 16 * 5 + 5 == 482_805
