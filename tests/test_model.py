"""MultiDimStacker: the shapes of the original forward (lRomul/ball-action-spotting@9c47153
src/models/multidim_stacker.py:210-243), parameter count, frozen encoder, weight transfer, local
weights."""

from __future__ import annotations

import dataclasses

import pytest
import timm
import torch
from safetensors.torch import save_file

from ballspot.core.errors import BallspotError
from ballspot.model.frames import pad_normalize
from ballspot.model.stacker import (
    ModelConfig,
    build_model,
    centre_classifier,
    freeze_conv2d_encoder,
    load_transfer_weights,
)

# Counted once from the built paper model; the formula test below re-derives it independently.
PAPER_15_PARAMS = 6_770_547


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def expected_params(config: ModelConfig) -> int:
    """The original module list (src/models/multidim_stacker.py:137-208), counted by hand from
    the hyper-parameters."""
    backbone = timm.create_model(config.model_name, pretrained=False, features_only=True,
                                 out_indices=[config.index_2d_features], in_chans=config.stack_size)
    enc_channels = backbone.feature_info.channels()[-1]
    f, p = config.num_3d_features, config.num_3d_stack_proj
    mid = f * config.expansion_3d_ratio
    rd = mid // config.se_reduce_3d_ratio
    projection_2d = enc_channels * f + 2 * f  # 1x1 conv without bias + BN affine
    block = (f * mid + 2 * mid  # pointwise expansion + BN
             + 27 * mid + 2 * mid  # depthwise 3x3x3 + BN
             + mid * rd + rd + rd * mid + mid  # squeeze-excite convs with bias
             + mid * f + 2 * f)  # pointwise projection + BN
    projection_3d = f * p + 2 * p
    num_features = p * config.num_stacks
    head = 1 + num_features * config.num_classes + config.num_classes  # GeM p + linear
    return (count(backbone) + projection_2d + config.num_3d_blocks * block + projection_3d + head)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def paper_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig()).eval()


@pytest.mark.parametrize("num_frames", [15, 33])
def test_forward_shapes_follow_the_stack_arithmetic(num_frames: int) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(num_frames=num_frames)).eval()
    stacks = num_frames // 3
    assert model.num_features == 256 * stacks
    x = torch.rand(2, num_frames, 64, 96)
    with torch.no_grad():
        f2d = model.forward_2d(x)
        assert f2d.shape == (2, stacks, 192, 2, 3)
        f3d = model.forward_3d(f2d)
        assert f3d.shape == (2, 256 * stacks, 2, 3)
        logits = model.forward_head(f3d)
        assert logits.shape == (2, 2)
        torch.testing.assert_close(model(x), logits)


def test_paper_resolution_gives_23x40_feature_maps(paper_model: torch.nn.Module) -> None:
    frames = torch.zeros(1, 3, 720, 1280, dtype=torch.uint8)
    x = pad_normalize(frames, (1280, 736))
    assert x.shape == (1, 3, 736, 1280)
    with torch.no_grad():
        f2d = paper_model.forward_2d(x)  # one stack only, to stay fast
        assert f2d.shape == (1, 1, 192, 23, 40)
        f3d = paper_model.forward_3d(f2d.expand(1, 5, 192, 23, 40).contiguous())
    assert f3d.shape == (1, 1280, 23, 40)


def test_parameter_count_matches_the_module_list(paper_model: torch.nn.Module) -> None:
    assert count(paper_model) == PAPER_15_PARAMS == expected_params(ModelConfig())
    config33 = ModelConfig(num_frames=33)
    assert count(build_model(config33)) == expected_params(config33)
    assert expected_params(config33) - PAPER_15_PARAMS == (2816 - 1280) * 2


def test_projection_input_follows_a_smaller_backbone() -> None:
    config = ModelConfig(model_name="mobilenetv3_small_050", num_3d_features=32,
                         num_3d_stack_proj=48, se_reduce_3d_ratio=8, num_3d_blocks=1)
    model = build_model(config).eval()
    assert model.conv2d_projection[0].in_channels == 288
    assert count(model) == expected_params(config)
    with torch.no_grad():
        assert model(torch.rand(1, 15, 64, 64)).shape == (1, 2)


def test_frozen_encoder_is_bit_identical_after_a_training_step() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig())
    freeze_conv2d_encoder(model)
    model.train()
    assert not model.conv2d_encoder.training and model.conv3d_encoder.training
    encoder_before = {k: v.clone() for k, v in model.conv2d_encoder.state_dict().items()}
    rest_before = {k: v.clone() for k, v in model.state_dict().items()
                   if not k.startswith("conv2d_encoder.")}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(trainable) < len(list(model.parameters()))
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    loss = model(torch.rand(2, 15, 64, 96)).square().mean()
    loss.backward()
    optimizer.step()
    for key, value in model.conv2d_encoder.state_dict().items():
        assert torch.equal(value, encoder_before[key]), key
    changed = [k for k, v in model.state_dict().items()
               if k in rest_before and not torch.equal(v, rest_before[k])]
    assert "classifier.weight" in changed
    assert "conv2d_projection.1.running_mean" in changed  # unfrozen BN still learns statistics
    assert any(k.startswith("conv3d_encoder.") for k in changed)


def test_cpu_convolutions_run_channels_last_with_the_same_values(monkeypatch) -> None:
    """The CPU layout (faster depthwise backward) reaches the 2D and 3D encoders and changes
    neither the logits nor the gradients beyond float rounding (both layouts measured ~1e-5 from
    a float64 reference; single gradients near zero differ more: the whole vector is compared)."""
    from ballspot.model import stacker

    layouts = []
    torch.manual_seed(0)
    config = ModelConfig(model_name="tf_mobilenetv3_small_100", drop_rate=0.0, drop_path_rate=0.0)
    model = build_model(config).train()
    for module in (model.conv2d_encoder, model.conv3d_encoder):
        module.register_forward_pre_hook(lambda _, args: layouts.append(
            args[0].is_contiguous(memory_format=torch.channels_last_3d if args[0].dim() == 5
                                  else torch.channels_last)))
    frames = torch.rand(2, 15, 64, 96)

    def run() -> tuple[torch.Tensor, torch.Tensor]:
        model.zero_grad()
        logits = model(frames)
        logits.square().sum().backward()
        return logits.detach(), torch.cat([p.grad.flatten() for p in model.parameters()])

    logits, grads = run()
    assert layouts == [True, True]
    monkeypatch.setattr(stacker, "_cpu_channels_last", lambda x: x)
    plain_logits, plain_grads = run()
    assert layouts[2:] == [False, False]
    torch.testing.assert_close(logits, plain_logits, rtol=1e-4, atol=1e-5)
    assert (grads - plain_grads).norm() / plain_grads.norm() < 1e-4


def test_unfrozen_encoder_does_change() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig()).train()
    before = model.conv2d_encoder.bn1.running_mean.clone()
    model(torch.rand(2, 15, 64, 96))
    assert not torch.equal(model.conv2d_encoder.bn1.running_mean, before)


def test_transfer_from_15_to_33_frames_skips_only_the_classifier_weight(
        paper_model: torch.nn.Module) -> None:
    torch.manual_seed(1)
    model33 = build_model(ModelConfig(num_frames=33))
    source = paper_model.state_dict()
    skipped = load_transfer_weights(model33, source)
    assert skipped == ["classifier.weight"]
    target = model33.state_dict()
    for key, value in source.items():
        if key != "classifier.weight":
            assert torch.equal(target[key], value), key
    assert not torch.equal(target["classifier.weight"][:, :1280], source["classifier.weight"])


def test_a_centred_classifier_predicts_what_the_shorter_model_did() -> None:
    """15 -> 33 frames: the 5-stack weight lands on the central 5 of 11 stacks, zeros elsewhere,
    so with the same features there the longer head gives the shorter head's logits."""
    config = ModelConfig(model_name="mobilenetv3_small_050", num_3d_features=16,
                         num_3d_stack_proj=8, num_3d_blocks=1)
    torch.manual_seed(0)
    short = build_model(dataclasses.replace(config, num_frames=15)).eval()
    long = build_model(dataclasses.replace(config, num_frames=33)).eval()
    state = centre_classifier(long, short.state_dict())
    assert load_transfer_weights(long, state) == []
    weight = long.classifier.weight.detach()
    assert torch.equal(weight[:, 24:64], short.classifier.weight.detach())
    assert not weight[:, :24].any() and not weight[:, 64:].any()
    features = torch.rand(2, 8 * 5, 3, 4)
    padded = torch.cat([torch.rand(2, 8 * 3, 3, 4), features, torch.rand(2, 8 * 3, 3, 4)], 1)
    with torch.no_grad():
        assert torch.allclose(long.classifier(padded.mean((2, 3))),
                              short.classifier(features.mean((2, 3))), atol=1e-6)
    # the same shape, or a stack count that cannot be centred, leaves the weights as they were
    assert centre_classifier(short, short.state_dict()).keys() == short.state_dict().keys()
    odd = build_model(dataclasses.replace(config, num_frames=18))
    assert centre_classifier(odd, short.state_dict())["classifier.weight"].shape == (2, 40)


def test_local_backbone_weights_are_loaded(tmp_path, paper_model: torch.nn.Module) -> None:
    full = timm.create_model("tf_efficientnetv2_b0", pretrained=False)  # with head keys
    path = tmp_path / "backbone.safetensors"
    save_file({k: v.contiguous() for k, v in full.state_dict().items()}, str(path))
    model = build_model(ModelConfig(pretrained=str(path)))
    for key, value in model.conv2d_encoder.state_dict().items():
        assert torch.equal(value, full.state_dict()[key]), key
    torch_path = tmp_path / "backbone.pth"
    torch.save(full.state_dict(), torch_path)
    model = build_model(ModelConfig(pretrained=str(torch_path)))
    assert torch.equal(model.conv2d_encoder.conv_stem.weight, full.conv_stem.weight)


def test_missing_or_incompatible_weights_name_the_file(tmp_path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(BallspotError, match="nope.safetensors.*not found"):
        build_model(ModelConfig(pretrained=str(missing)))
    other = timm.create_model("mobilenetv3_small_050", pretrained=False)
    path = tmp_path / "other.pth"
    torch.save(other.state_dict(), path)
    with pytest.raises(BallspotError, match="other.pth.*incompatible"):
        build_model(ModelConfig(pretrained=str(path)))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(BallspotError, match="garbage.pth.*cannot read"):
        build_model(ModelConfig(pretrained=str(garbage)))


def test_from_params_rejects_unknown_keys_and_round_trips() -> None:
    config = ModelConfig.from_params({"num_frames": 33, "drop_rate": 0.1})
    assert config.num_frames == 33 and config.num_stacks == 11
    assert ModelConfig.from_params(config.to_params()) == config
    with pytest.raises(BallspotError, match="params.yaml.*unknown model parameter.*num_frame"):
        ModelConfig.from_params({"num_frame": 33}, source="params.yaml")
    with pytest.raises(BallspotError, match="not a positive multiple"):
        ModelConfig.from_params({"num_frames": 16})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.num_frames = 15  # type: ignore[misc]


def test_pad_normalize_splits_padding_top_and_bottom() -> None:
    frames = torch.full((2, 720, 1270), 255, dtype=torch.uint8)
    out = pad_normalize(frames)
    assert out.shape == (2, 736, 1280) and out.dtype == torch.float32
    assert out[:, :8].eq(0).all() and out[:, 728:].eq(0).all() and out[:, 8:728, 5:1275].eq(1).all()
    assert out[:, :, :5].eq(0).all() and out[:, :, 1275:].eq(0).all()
    odd = pad_normalize(torch.full((3, 5), 51, dtype=torch.uint8), (8, 6))
    assert odd[0].eq(0).all() and odd[1:4, 1:6].eq(0.2).all() and odd[4:].eq(0).all()
    assert odd[:, 0].eq(0).all() and odd[:, 6:].eq(0).all()
    with pytest.raises(ValueError, match="do not fit"):
        pad_normalize(frames, (1024, 736))


def test_encoder_stops_at_the_level_it_is_read(tmp_path) -> None:
    """timm builds (and runs) every stage of a features-only encoder; the stacker drops those
    past ``index_2d_features``: the features are the full encoder's, bit for bit, and a model
    folder saved with those stages still loads and predicts the same."""
    from ballspot.model.folder import load_model_dir, save_model_dir

    config = ModelConfig(model_name="tf_mobilenetv3_small_100", index_2d_features=3,
                         num_3d_features=32, num_3d_stack_proj=48, se_reduce_3d_ratio=8,
                         num_3d_blocks=1, num_classes=2)
    torch.manual_seed(0)
    model = build_model(config).eval()
    full = timm.create_model(config.model_name, pretrained=False, features_only=True,
                             out_indices=[3], in_chans=config.stack_size).eval()
    extra = {f"conv2d_encoder.{k}": v for k, v in full.state_dict().items()
             if k.startswith(("blocks.4.", "blocks.5."))}
    assert extra and not set(extra) & set(model.state_dict())
    missing = full.load_state_dict(model.conv2d_encoder.state_dict(), strict=False).missing_keys
    weights = {key[len("conv2d_encoder."):] for key in extra}
    assert {key for key in missing if not key.endswith("num_batches_tracked")} \
        == {key for key in weights if not key.endswith("num_batches_tracked")}
    assert len(model.conv2d_encoder.blocks) == 4 and len(full.blocks) == 6
    stacks = torch.rand(2, config.stack_size, 96, 160)
    with torch.no_grad():
        assert torch.equal(model.conv2d_encoder(stacks)[-1], full(stacks)[-1])
    resolved = {"model": config.to_params(), "classes": ["PASS", "DRIVE"],
                "frames": {"image_size": None, "video_size": [160, 96],
                           "frame_stack_size": config.num_frames, "frame_stack_step": 2}}
    save_model_dir(tmp_path / "m", model, resolved)
    save_file({k: v.contiguous() for k, v in {**model.state_dict(), **extra}.items()},
              str(tmp_path / "m" / "model.safetensors"))
    loaded, _ = load_model_dir(tmp_path / "m")
    clip = torch.rand(1, config.num_frames, 96, 160)
    with torch.no_grad():
        assert torch.equal(loaded(clip), model(clip))
