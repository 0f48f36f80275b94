"""swiftstn.torch's model conversion: to_torch (swiftstn model → torch.nn.Module) and from_torch
(torch.nn.Module → swiftstn model), both ways, on Sequential CNNs, models.blog_net, seed_cnn with
every transform and the seed's Net class: parameter names and values, outputs (≤ 1e-5, eval mode),
gradients against the engine's loss_and_grad, training the converted model in swiftstn, and the
errors that name what cannot be converted."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import swiftstn.torch as st  # noqa: E402
from swiftstn import models  # noqa: E402
from swiftstn import nn as snn  # noqa: E402
from swiftstn.torch._convert import ConvertedModel, SpatialTransformer, from_torch, to_torch  # noqa: E402

from conftest import assert_close  # noqa: E402


# The seed's network (../shared/seeds/000_aa647ad69bca8111.txt), copied verbatim: the page lost
# its line breaks, restored here; code and comments are the seed's.
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)  # 修复:等号'='而不是'-'
        self.fc2 = nn.Linear(50, 10)
        self.flatten = nn.Flatten()
        # STN模块组成-特征提取localization子网络, 用来先提取能反应图像几何信息的高级特征
        # 修复:括号'()'而不是')'
        self.localization = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=7),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
            nn.Conv2d(8, 10, kernel_size=5),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True)
        )
        # STN模块组成-全连接定位网络-回归仿射矩阵
        self.fc_loc = nn.Sequential(
            nn.Linear(10 * 3 * 3, 32),
            nn.ReLU(True),
            # 直接把几何变换矩阵全连接出来
            nn.Linear(32, 3 * 2)
        )
        # 网络权重初始化,保证一开始的变换矩阵从什么都不做的单位帧
        self.fc_loc[2].weight.data.zero_()  # 定位网络直接用0初始化权重
        self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))
        """[1, 0, 0][0, 1, 0]"""

    def stn(self, x):
        xs = self.localization(x)
        xs = self.flatten(xs)  # 修复:
        theta = self.fc_loc(xs)
        # 重塑成矩阵形状
        theta = theta.view(-1, 2, 3)
        # 网格生成部分,对图像引用几何变换矩阵产生新图像
        grid = F.affine_grid(theta, x.size(), align_corners=True)
        x = F.grid_sample(x, grid, align_corners=True)
        return x

    def forward(self, x):
        x = self.stn(x)
        # 传给分类层
        # Perform the usual forward pass
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = self.flatten(x)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


TRANSFORMS = ["affine", "attention", "similarity", "projective", "tps"]


def images(n=6, size=28, channels=1, seed=0):
    return np.random.default_rng(seed).normal(0, 1, (n, channels, size, size)).astype(np.float32)


def labels(n=6, classes=10, seed=0):
    return np.random.default_rng(seed + 100).integers(0, classes, n)


def torch_net(seed=0, scale=0.05):
    """The seed's Net with a regressor that does not start at the identity (so the sampler's
    result depends on the input and the parameters)."""
    torch.manual_seed(seed)
    net = Net()
    with torch.no_grad():
        net.fc_loc[2].weight.normal_(0, scale)
        net.fc_loc[2].bias.add_(torch.randn(6) * scale)
    return net


def perturb_regressor(model, scale=0.01, seed=0):
    """Moves a swiftstn model's transformer off the identity (regressor's last layer)."""
    rng = np.random.default_rng(seed)
    sd = model.state_dict()
    for k in sd:
        if k.rsplit(".", 2)[-2:-1] == ["2"] and ("regressor" in k or "fc_loc" in k):
            sd[k] = sd[k] + rng.normal(0, scale, sd[k].shape).astype(np.float32)
    model.load_state_dict(sd)
    return model


def torch_out(module, x):
    module.eval()
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def assert_same_parameters(swift_model, torch_module):
    """Same names, in the same order, and the same values."""
    s = swift_model.state_dict()
    t = torch_module.state_dict()
    assert list(s) == list(t)
    for k in s:
        np.testing.assert_array_equal(s[k], t[k].detach().numpy(), err_msg=k)


def assert_gradients_match(swift_model, torch_module, x, y):
    """torch autograd through the converted module (mean NLL, eval mode) against the engine's
    loss_and_grad: float32 agreement, per tensor, relative to its largest entry."""
    swift_model.eval()
    torch_module.eval()
    torch_module.zero_grad()
    out = torch_module(torch.from_numpy(x))
    loss = F.nll_loss(out, torch.from_numpy(y))
    loss.backward()
    engine_loss, grads = swift_model.loss_and_grad(x, y)
    assert abs(loss.item() - engine_loss) <= 1e-5 * max(1.0, abs(engine_loss))
    params = dict(torch_module.named_parameters())
    assert set(params) == set(grads)
    for k, g in grads.items():
        got = params[k].grad.numpy()
        scale = max(float(np.abs(g).max()), 1e-6)
        assert float(np.abs(got - g).max()) <= 1e-4 * scale, f"{k}: {np.abs(got - g).max()} vs scale {scale}"


# ---- to_torch ---------------------------------------------------------------------------------

def cnn(flatten=True):
    layers = [snn.Conv2d(1, 4, 3, stride=2, padding=1), snn.ReLU(), snn.MaxPool2d(2), snn.Dropout2d(0.25),
              snn.Conv2d(4, 6, 3), snn.ReLU()]
    layers += [snn.Flatten()] if flatten else []  # the engine's Linear flattens by itself
    layers += [snn.Linear(6 * 5 * 5, 16), snn.ReLU(), snn.Dropout(0.3), snn.Linear(16, 5), snn.LogSoftmax(dim=1)]
    return snn.Sequential(*layers).build(seed=4).eval()


@pytest.mark.parametrize("flatten", [True, False])
def test_sequential_cnn_round_trip_through_torch(flatten):
    model = cnn(flatten)
    x = images(5)
    t = to_torch(model)
    assert isinstance(t, nn.Sequential) and not t.training
    assert_same_parameters(model, t)
    assert [type(m).__name__ for m in t][:4] == ["Conv2d", "ReLU", "MaxPool2d", "Dropout2d"]
    assert t[3].p == 0.25 and t[-3].p == 0.3
    assert_close(torch_out(t, x), model.forward(x), np.float32, "to_torch(cnn)")
    assert_gradients_match(model, t, x, labels(5, 5))

    back = from_torch(t, x)
    assert list(back.state_dict()) == list(model.state_dict())
    assert_same_parameters(back, t)
    assert_close(back.eval().forward(x), model.forward(x), np.float32, "from_torch(to_torch(cnn))")
    if flatten:  # one torch layer per swiftstn layer: a plain Sequential, the same network
        assert type(back) is snn.Sequential and back.spec == model.spec


def test_torch_sequential_round_trip_through_swiftstn():
    torch.manual_seed(1)
    t = nn.Sequential(nn.Conv2d(2, 5, (3, 5), stride=(1, 2), padding=(1, 2)), nn.ReLU(), nn.MaxPool2d(2, stride=1),
                      nn.Conv2d(5, 3, 3, bias=False), nn.Dropout2d(0.1), nn.ReLU(inplace=True),
                      nn.Flatten(), nn.Linear(3 * 9 * 3, 7), nn.Dropout(), nn.ReLU(), nn.Linear(7, 4),
                      nn.LogSoftmax(dim=1))
    x = images(3, size=12, channels=2)
    model = from_torch(t, x)
    assert type(model) is snn.Sequential and model.training  # t is in training mode
    assert model.spec == ("seq(conv(2,5,3,5,1,2,1,2,1),relu,maxpool(2,2,1,1),conv(5,3,3,3,1,1,0,0,0),dropout2d(0.1),"
                          "relu,flatten,linear(81,7,1),dropout(0.5),relu,linear(7,4,1),logsoftmax)")
    assert_same_parameters(model, t)
    assert t.training  # from_torch leaves the module's mode alone
    assert_close(model.eval().forward(x), torch_out(t, x), np.float32, "from_torch(sequential)")

    again = to_torch(model)
    assert_same_parameters(model, again)
    assert_close(torch_out(again, x), torch_out(t, x), np.float32, "to_torch(from_torch(sequential))")


def test_blog_net_round_trip_through_torch():
    model = perturb_regressor(models.blog_net(seed=2).eval(), 0.02)
    x = images(4)
    t = to_torch(model)
    assert_same_parameters(model, t)
    assert [n for n, _ in t.named_children()] == [n for n, _ in model.named_children()]
    assert_close(torch_out(t, x), model.forward(x), np.float32, "to_torch(blog_net)")
    assert_gradients_match(model, t, x, labels(4))

    back = from_torch(t, x)
    assert isinstance(back, ConvertedModel)
    assert back.spec == model.spec
    assert_same_parameters(back, t)
    assert_close(back.eval().forward(x), model.forward(x), np.float32, "from_torch(to_torch(blog_net))")
    np.testing.assert_allclose(back.theta(x), model.theta(x), atol=1e-6)


@pytest.mark.parametrize("transform", [None] + TRANSFORMS)
def test_seed_cnn_with_each_transform_to_torch(transform):
    model = perturb_regressor(models.seed_cnn(transform=transform, seed=5).eval(), 0.01)
    x, y = images(6, seed=1), labels(6, seed=1)
    t = to_torch(model)
    assert_same_parameters(model, t)
    if transform is not None:
        assert isinstance(t[0], SpatialTransformer)
        assert (t[0].transform, t[0].align_corners) == (transform, True)
        assert_close(t[0](torch.from_numpy(x)).detach().numpy(), model.stn(x), np.float32, "transformer output")
    assert_close(torch_out(t, x), model.forward(x), np.float32, f"to_torch(seed_cnn({transform}))")
    assert_gradients_match(model, t, x, y)
    # back again: the transformer module converts whole, whatever its transform
    back = from_torch(t, x)
    assert back.spec == model.spec
    assert_same_parameters(back, t)


def test_to_torch_keeps_the_mode_and_dropout_is_active_in_training():
    model = models.seed_cnn(seed=0)
    assert model.training
    t = to_torch(model)
    assert t.training
    x = torch.from_numpy(images(8))
    torch.manual_seed(0)
    a, b = t(x), t(x)
    assert not torch.equal(a, b)  # dropout draws differ between calls in training mode
    t.eval()
    assert torch.equal(t(x), t(x))


def test_to_torch_refuses_a_non_swiftstn_model():
    with pytest.raises(TypeError, match="swiftstn.nn.Module, got Sequential"):
        to_torch(nn.Sequential(nn.ReLU()))


# ---- from_torch: the seed's Net ---------------------------------------------------------------

def test_seed_net_converts_to_blog_net():
    net = torch_net()
    x = images(5, seed=3)
    model = from_torch(net, torch.from_numpy(x))
    assert isinstance(model, ConvertedModel) and model.training and net.training
    assert list(model.state_dict()) == list(net.state_dict())
    assert_same_parameters(model, net)
    # the converted chain is the engine's BlogNet, layer for layer
    assert model.spec == models.blog_net(seed=0).spec
    assert [n for n, _ in model.named_children()] == [n for n, _ in net.named_children()]
    assert_close(model.eval().forward(x), torch_out(net, x), np.float32, "from_torch(Net)")
    with torch.no_grad():
        theta = net.fc_loc(net.flatten(net.localization(torch.from_numpy(x)))).view(-1, 2, 3).numpy()
    np.testing.assert_allclose(model.theta(x), theta, atol=1e-6)
    # and the engine's gradients are torch's (F.grid_sample and F.affine_grid: PyTorch's own kernels)
    assert_gradients_match(model, net, x, labels(5, seed=3))


def test_seed_net_round_trip_through_swiftstn():
    net = torch_net(seed=1)
    x = images(4, seed=4)
    model = from_torch(net, x)
    t = to_torch(model)
    assert list(t.state_dict()) == list(net.state_dict())
    assert_same_parameters(model, t)
    assert_close(torch_out(t, x), torch_out(net, x), np.float32, "to_torch(from_torch(Net))")
    assert isinstance(t.localization, nn.Sequential) and isinstance(t.fc_loc, nn.Sequential)
    assert from_torch(t, x).spec == model.spec


def test_from_torch_restores_every_submodule_mode():
    net = torch_net()
    net.eval()
    net.localization.train()  # a mixed state must come back as it was
    model = from_torch(net, images(2))
    assert not model.training
    assert net.localization.training and not net.training and not net.conv1.training


class NetSwiftstnOps(Net):
    """The seed's Net sampling with swiftstn.torch's functions, x.shape and align_corners=None."""

    def stn(self, x):
        theta = self.fc_loc(self.flatten(self.localization(x))).view(-1, 2, 3)
        grid = st.affine_grid(theta, x.shape, align_corners=False)
        return st.grid_sample(x, grid, align_corners=False)


class NetFunctional(Net):
    """Other spellings of the same network: torch.flatten, view(x.size(0), -1), torch.relu,
    torch.log_softmax, F.max_pool2d with a stride, a reshape of theta and F.dropout2d."""

    def stn(self, x):
        xs = torch.flatten(self.localization(x), 1)
        theta = self.fc_loc(xs).reshape(-1, 2, 3)
        return F.grid_sample(x, F.affine_grid(theta, x.size(), align_corners=False), mode="bilinear",
                             padding_mode="zeros", align_corners=False)

    def forward(self, x):
        x = self.stn(x)
        x = torch.relu(F.max_pool2d(self.conv1(x), 2, 2))
        x = F.relu(F.max_pool2d(F.dropout2d(self.conv2(x), 0.3, training=self.training), 2))
        x = x.view(x.size(0), -1)
        x = F.dropout(torch.relu(self.fc1(x)), p=0.2, training=self.training)
        return torch.log_softmax(self.fc2(x), 1)


@pytest.mark.parametrize("cls,spec_part", [
    (NetSwiftstnOps, "),0),conv(1,10"),
    (NetFunctional, "dropout2d(0.3),maxpool(2,2,2,2),relu,flatten,linear(320,50,1),relu,dropout(0.2)"),
])
def test_other_spellings_of_the_seed_net(cls, spec_part):
    torch.manual_seed(3)
    net = cls()
    with torch.no_grad():
        net.fc_loc[2].weight.normal_(0, 0.05)
    x = images(3, seed=5)
    model = from_torch(net, x)
    assert spec_part in model.spec
    assert_close(model.eval().forward(x), torch_out(net, x), np.float32, cls.__name__)


def test_seed_net_under_patch():
    """Inside swiftstn.torch.patch(), F.grid_sample/affine_grid are swiftstn's routing wrappers."""
    net = torch_net(seed=2)
    x = images(3, seed=6)
    with st.patch():
        model = from_torch(net, x)
        expected = torch_out(net, x)
    assert model.spec == models.blog_net(seed=0).spec
    assert_close(model.eval().forward(x), expected, np.float32, "from_torch(Net) under patch()")


def toy_task(n, seed):
    """Two classes: a bright 8×8 square near the top-left or the bottom-right corner, in noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, (n, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 2, n)
    for i in range(n):
        r = 4 if y[i] == 0 else 16
        x[i, 0, r:r + 8, r:r + 8] += 2.0
    return x, y


def test_converted_seed_net_trains_in_swiftstn():
    torch.manual_seed(0)
    net = Net()
    model = from_torch(net, torch.zeros(2, 1, 28, 28))
    x, y = toy_task(384, 0)
    xt, yt = toy_task(128, 1)
    loss_before, _ = model.evaluate(xt, yt)
    history = model.fit(x, y, epochs=3, batch_size=32, lr=0.02, seed=0, progress=False)
    loss_after, accuracy = model.evaluate(xt, yt)
    assert all(np.isfinite(history["train_loss"]))
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert loss_after < 0.5 * loss_before and accuracy >= 0.9
    # the trained weights go back to torch under the same names, with the same outputs
    t = to_torch(model)
    net.load_state_dict(t.state_dict())
    assert_close(torch_out(net, xt[:8]), model.forward(xt[:8]), np.float32, "trained model back in Net")


def test_from_torch_float64_module_and_numpy_input():
    torch.manual_seed(2)
    t = nn.Sequential(nn.Conv2d(1, 2, 3, padding="same"), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 8 * 8, 3)).double()
    x = images(2, size=8)
    model = from_torch(t, x)
    assert model.spec == "seq(conv(1,2,3,3,1,1,1,1,1),relu,flatten,linear(128,3,1))"
    with torch.no_grad():
        expected = t(torch.from_numpy(x).double()).numpy()
    np.testing.assert_allclose(model.eval().forward(x), expected, atol=1e-5)


# ---- from_torch: what it refuses, by name -----------------------------------------------------

class Gelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return F.gelu(self.conv(x))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        return x + self.conv(x)


class DeadBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.used = nn.Conv2d(1, 1, 3)
        self.unused = nn.Conv2d(1, 1, 3)

    def forward(self, x):
        self.unused(x)
        return self.used(x)


class SharedWeights(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        return self.conv(self.conv(x))


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)

    def forward(self, x):
        return self.conv(x) if x.sum() > 0 else x


class NearestSampling(Net):
    def stn(self, x):
        theta = self.fc_loc(self.flatten(self.localization(x))).view(-1, 2, 3)
        return F.grid_sample(x, F.affine_grid(theta, x.size(), align_corners=True), mode="nearest",
                             align_corners=True)


class BorderPadding(Net):
    def stn(self, x):
        theta = self.fc_loc(self.flatten(self.localization(x))).view(-1, 2, 3)
        return F.grid_sample(x, F.affine_grid(theta, x.size(), align_corners=True), padding_mode="border",
                             align_corners=True)


class MixedAlignCorners(Net):
    def stn(self, x):
        theta = self.fc_loc(self.flatten(self.localization(x))).view(-1, 2, 3)
        return F.grid_sample(x, F.affine_grid(theta, x.size(), align_corners=True), align_corners=False)


class AlwaysDropout(Net):
    def forward(self, x):
        x = self.stn(x)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.dropout(F.relu(self.fc1(self.flatten(x))))  # training=True even in eval mode
        return F.log_softmax(self.fc2(x), dim=1)


REFUSED = [
    ("batchnorm", lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)),
     r"module '1' \(BatchNorm2d\) is not supported"),
    ("gelu", Gelu, r"call to torch\.nn\.functional\.gelu \(node 'gelu'\) is not supported"),
    ("groups", lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3, groups=2)),
     r"module '1' \(Conv2d\): groups=2"),
    ("dilation", lambda: nn.Sequential(nn.Conv2d(1, 4, 3, dilation=2)), r"module '0' \(Conv2d\): dilation=\(2, 2\)"),
    ("padding_mode", lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, padding_mode="reflect")),
     r"module '0' \(Conv2d\): padding_mode='reflect'"),
    ("same_even_kernel", lambda: nn.Sequential(nn.Conv2d(1, 4, 4, padding="same")),
     r"module '0' \(Conv2d\): padding='same' with the even"),
    ("ceil_mode", lambda: nn.Sequential(nn.MaxPool2d(3, ceil_mode=True)), r"module '0' \(MaxPool2d\): ceil_mode=True"),
    ("pool_padding", lambda: nn.Sequential(nn.MaxPool2d(2, padding=1)), r"module '0' \(MaxPool2d\): padding=1"),
    ("linear_on_images", lambda: nn.Sequential(nn.Linear(28, 5)),
     r"module '0' \(Linear\): .*got shape \(2, 1, 28, 28\)"),
    ("log_softmax_dim", lambda: nn.Sequential(nn.Flatten(), nn.LogSoftmax(dim=0)),
     r"module '1' \(LogSoftmax\): only dim=1"),
    ("flatten_batch", lambda: nn.Sequential(nn.Flatten(0)), r"module '0' \(Flatten\): start_dim=0"),
    ("residual_add", Residual, r"call to _?operator\.add \(node 'add'\)"),
    ("dead_branch", DeadBranch, r"module 'unused' \(Conv2d\) is not on the path from the input to the output"),
    ("shared_weights", SharedWeights, r"module 'conv' \(Conv2d\) is called more than once"),
    ("data_dependent_control_flow", DataDependent, r"DataDependent cannot be traced by torch\.fx"),
    ("grid_sample_nearest", NearestSampling,
     r"torch\.nn\.functional\.grid_sample \(node 'grid_sample'\): mode='nearest'"),
    ("grid_sample_border", BorderPadding,
     r"torch\.nn\.functional\.grid_sample \(node 'grid_sample'\): .*padding_mode='border'"),
    ("mixed_align_corners", MixedAlignCorners, r"affine_grid .* has align_corners=True but .*grid_sample.* has False"),
    ("dropout_always_on", AlwaysDropout,
     r"torch\.nn\.functional\.dropout \(node 'dropout'\): this dropout is active in eval mode"),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's own warning, while shapes are propagated
@pytest.mark.parametrize("case,factory,message", REFUSED, ids=[case for case, _, _ in REFUSED])
def test_from_torch_names_what_it_cannot_convert(case, factory, message):
    module = factory()
    with pytest.raises(ValueError, match=message):
        from_torch(module, torch.zeros(2, 1, 28, 28))


def test_from_torch_argument_types_and_shapes():
    with pytest.raises(TypeError, match="torch.nn.Module, got Sequential"):
        from_torch(snn.Sequential(snn.ReLU()), torch.zeros(1, 1, 4, 4))
    with pytest.raises(TypeError, match="example_input must be a torch.Tensor or NumPy array, got list"):
        from_torch(nn.Sequential(nn.ReLU()), [[1.0]])
    with pytest.raises(ValueError, match=r"example_input must be N×C×H×W, got shape \(2, 3, 4\)"):
        from_torch(nn.Sequential(nn.ReLU()), torch.zeros(2, 3, 4))


def test_a_torch_child_named_like_a_model_method_keeps_its_name():
    """Attributes such as `stn` or `layers` would shadow ConvertedModel's methods: they are
    registered as children only, and the names still match torch's."""

    class Named(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
            self.stn = nn.Linear(2 * 6 * 6, 3)

        def forward(self, x):
            return self.stn(torch.flatten(self.layers(x), 1))

    torch.manual_seed(0)
    t = Named()
    x = images(2, size=8)
    model = from_torch(t, x)
    assert list(model.state_dict()) == list(t.state_dict())
    assert callable(model.layers) and callable(model.stn)
    assert_close(model.eval().forward(x), torch_out(t, x), np.float32, "Named")
    assert list(to_torch(model).state_dict()) == list(t.state_dict())
