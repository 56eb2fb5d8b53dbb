import torch

from helpers.models import ReportCNN, ReportSegNet, count_parameters


def test_report_cnn_shape_and_parameters():
    model = ReportCNN()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    # conv 1*32*9+32, conv 32*64*9+64, fc 64*5*5*128+128, fc 128*10+10
    assert count_parameters(model) == 320 + 18_496 + 204_928 + 1_290 == 225_034


def test_report_segnet_shape_and_parameters():
    model = ReportSegNet(n_class=5)
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
