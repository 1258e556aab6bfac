#!/usr/bin/env python3
"""Our PyTorch version of one DARTS search step, the peer that bench_search_step is judged
against. Same network as darts/cnn/search_model (stem ×3, 8 primitives, 4-node cells, reductions at
L/3 and 2L/3), same batch, same optimizers and the official order: the α step (first order, or
second order with the unrolled virtual step and the finite-difference Hessian-vector product),
then the weight step (SGD momentum 0.9, wd 3e-4, clip 5). Written from the DARTS paper and the
reference notes in shared/reference/darts.md; cudnn.benchmark on, as the official search script.
Runs eager, compiled (the network's forward + loss through torch.compile) or replayed from one
CUDA graph per step (peer_common.py says what each mode covers).

  python3 bench/peers/darts_search_step.py [--steps 20] [--json out.json] [--rows default:1,...]
      [--modes eager,compile,cuda-graph]
  python3 bench/peers/darts_search_step.py --device cpu --rows reduced:1 --steps 5
  python3 bench/peers/darts_search_step.py --method pc-darts   # pc-darts:1,pc-darts-256:1

Prints one line per row and mode and writes JSON rows: config, order, mode, ms_per_step (mean;
null when the mode could not run, with the error in `reason`), ms_steps (each step), peak_MiB
(the CUDA allocator's; on the CPU the process's peak resident memory), params (α excluded; the
default config must have 1,930,618 like ours and its PC-DARTS supernet (--method pc-darts:
partial channels K = 4, edge normalisation β, first order) 299,578, checked at start). On a GPU the steps are timed
together between two CUDA events; on the CPU each step with a steady clock."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from peer_common import compiled, peer_main

PRIMITIVES = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
              "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"]


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x.mul(0.0) if self.stride == 1 else x[:, :, ::self.stride, ::self.stride].mul(0.0)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, stride, padding, affine):
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
                         nn.BatchNorm2d(c_out, affine=affine))


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out, affine):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.conv2 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x):
        x = F.relu(x)
        return self.bn(torch.cat([self.conv1(x), self.conv2(x[:, :, 1:, 1:])], dim=1))


def sep_conv(c, kernel, stride, padding):
    return nn.Sequential(
        nn.ReLU(inplace=False), nn.Conv2d(c, c, kernel, stride, padding, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=False),
        nn.ReLU(inplace=False), nn.Conv2d(c, c, kernel, 1, padding, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=False))


def dil_conv(c, kernel, stride, padding):
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(c, c, kernel, stride, padding, dilation=2, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=False))


def make_op(name, c, stride):
    if name == "none":
        return Zero(stride)
    if name == "max_pool_3x3":
        return nn.Sequential(nn.MaxPool2d(3, stride, 1), nn.BatchNorm2d(c, affine=False))
    if name == "avg_pool_3x3":
        return nn.Sequential(nn.AvgPool2d(3, stride, 1, count_include_pad=False),
                             nn.BatchNorm2d(c, affine=False))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine=False)
    kernel = int(name[-1])
    if name.startswith("sep"):
        return sep_conv(c, kernel, stride, kernel // 2)
    return dil_conv(c, kernel, stride, kernel - 1)


class MixedOp(nn.Module):
    def __init__(self, c, stride):
        super().__init__()
        self.ops = nn.ModuleList(make_op(p, c, stride) for p in PRIMITIVES)

    def forward(self, x, weights):
        return sum(w * op(x) for w, op in zip(weights, self.ops))


def channel_shuffle(x, groups):
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class PartialMixedOp(MixedOp):
    """PC-DARTS (Xu et al. 2020): the first C/K channels go through the candidates (built for
    C/K), the others around them (max-pooled 2×2 on a stride-2 edge), then a channel shuffle with
    K groups mixes the two."""

    def __init__(self, c, stride, k):
        super().__init__(c // k, stride)
        self.k = k
        self.bypass = nn.MaxPool2d(2, 2) if stride == 2 else nn.Identity()

    def forward(self, x, weights):
        head = x.shape[1] // self.k
        y = super().forward(x[:, :head], weights)
        return channel_shuffle(torch.cat([y, self.bypass(x[:, head:])], dim=1), self.k)


class Cell(nn.Module):
    def __init__(self, c_pp, c_p, c, reduction, reduction_prev, steps=4, k=1):
        super().__init__()
        self.steps, self.reduction = steps, reduction
        self.pre0 = FactorizedReduce(c_pp, c, False) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0, False)
        self.pre1 = ReLUConvBN(c_p, c, 1, 1, 0, False)
        self.edges = nn.ModuleList()
        for i in range(steps):
            for j in range(2 + i):
                stride = 2 if reduction and j < 2 else 1
                self.edges.append(PartialMixedOp(c, stride, k) if k > 1 else MixedOp(c, stride))

    def forward(self, s0, s1, weights, node_weights=None):
        """node_weights (PC-DARTS's edge normalisation): per node, softmax over its edges' β."""
        states = [self.pre0(s0), self.pre1(s1)]
        offset = 0
        for i in range(self.steps):
            ys = [self.edges[offset + j](h, weights[offset + j]) for j, h in enumerate(states)]
            s = sum(ys) if node_weights is None else sum(w * y for w, y in zip(node_weights[i], ys))
            offset += len(states)
            states.append(s)
        return torch.cat(states[-self.steps:], dim=1)


def edge_normalization(beta, steps):
    """Per node, softmax over the β of its 2 + i incoming edges."""
    out, start = [], 0
    for i in range(steps):
        out.append(F.softmax(beta[start:start + 2 + i], dim=-1))
        start += 2 + i
    return out


class SearchNetwork(nn.Module):
    """DARTS's supernet; with k > 1 PC-DARTS's: partial channels on every edge and β."""

    def __init__(self, c, layers, input_channels, classes=10, steps=4, stem_multiplier=3, k=1):
        super().__init__()
        c_curr = stem_multiplier * c
        self.stem = nn.Sequential(nn.Conv2d(input_channels, c_curr, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c_curr))
        c_pp, c_p, c_curr = c_curr, c_curr, c
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            self.cells.append(Cell(c_pp, c_p, c_curr, reduction, reduction_prev, steps, k))
            reduction_prev = reduction
            c_pp, c_p = c_p, steps * c_curr
        self.classifier = nn.Linear(c_p, classes)
        self.steps = steps
        edges = sum(2 + i for i in range(steps))
        self.alpha_normal = 1e-3 * torch.randn(edges, len(PRIMITIVES))
        self.alpha_reduce = 1e-3 * torch.randn(edges, len(PRIMITIVES))
        self.arch_names = ["alpha_normal", "alpha_reduce"]
        if k > 1:
            self.beta_normal = 1e-3 * torch.randn(edges)
            self.beta_reduce = 1e-3 * torch.randn(edges)
            self.arch_names += ["beta_normal", "beta_reduce"]

    def alphas(self):
        """The architecture parameters: α, and β with PC-DARTS (what the α step trains)."""
        return [getattr(self, name) for name in self.arch_names]

    def forward(self, x):
        s0 = s1 = self.stem(x)
        wn = F.softmax(self.alpha_normal, dim=-1)
        wr = F.softmax(self.alpha_reduce, dim=-1)
        nn_, nr = None, None
        if "beta_normal" in self.arch_names:
            nn_ = edge_normalization(self.beta_normal, self.steps)
            nr = edge_normalization(self.beta_reduce, self.steps)
        for cell in self.cells:
            s0, s1 = s1, (cell(s0, s1, wr, nr) if cell.reduction else cell(s0, s1, wn, nn_))
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1))


class Architect:
    """α step: Adam(3e-4, betas (0.5, 0.999), wd 1e-3) on the validation loss; second order
    differentiates through one virtual SGD step w' = w − ξ(m·buf + ∇L_train + wd·w).
    `loss(x, y)` is the network's loss and `virtual_loss(params, x, y)` the same network's at
    other weights (both compiled in compile mode). R = 0.01/‖v‖ stays on the device (no host
    sync), so the step can be captured."""

    def __init__(self, net, weight_optimizer, unrolled, loss, virtual_loss, capturable,
                 xi=0.025, momentum=0.9, wd=3e-4):
        self.net, self.w_opt, self.unrolled = net, weight_optimizer, unrolled
        self.loss, self.virtual_loss = loss, virtual_loss
        self.xi, self.momentum, self.wd = xi, momentum, wd
        self.opt = torch.optim.Adam(net.alphas(), lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3,
                                    capturable=capturable)

    def step(self, xt, yt, xv, yv):
        self.opt.zero_grad()
        if self.unrolled:
            self._unrolled_grad(xt, yt, xv, yv)
        else:
            self.loss(xv, yv).backward()
        self.opt.step()

    def _unrolled_grad(self, xt, yt, xv, yv):
        names, params = zip(*self.net.named_parameters())
        grads = torch.autograd.grad(self.loss(xt, yt), params)
        virtual = {}
        for name, p, g in zip(names, params, grads):
            buf = self.w_opt.state.get(p, {}).get("momentum_buffer")
            step = g + self.wd * p.detach()
            if buf is not None:
                step = step + self.momentum * buf
            virtual[name] = (p.detach() - self.xi * step).requires_grad_()
        alphas = self.net.alphas()
        loss = self.virtual_loss(virtual, xv, yv)
        out = torch.autograd.grad(loss, alphas + list(virtual.values()))
        dalpha, vector = out[:len(alphas)], out[len(alphas):]
        r = 0.01 / torch.cat([v.flatten() for v in vector]).norm()
        implicit = []
        for sign in (1.0, -2.0):
            with torch.no_grad():
                torch._foreach_add_(params, torch._foreach_mul(vector, sign * r))
            implicit.append(torch.autograd.grad(self.loss(xt, yt), alphas))
        with torch.no_grad():
            torch._foreach_add_(params, torch._foreach_mul(vector, r))
        for a, d, gp, gn in zip(alphas, dalpha, *implicit):
            a.grad = d - self.xi * (gp - gn) / (2 * r)


# config: (C, layers, batch, image channels, image size, K partial channels; 1: DARTS)
SHAPES = {"default": (16, 8, 64, 3, 32, 1), "reduced": (8, 5, 32, 1, 28, 1),
          "pc-darts": (16, 8, 64, 3, 32, 4), "pc-darts-256": (16, 8, 256, 3, 32, 4)}
# Ours (bench_search_step's `params`) for the default config and its PC-DARTS supernet.
EXPECTED_PARAMS = [("default", 1930618), ("pc-darts", 299578)]
# --method: the rows each runs unless --rows is given (PC-DARTS: first order, as its recipe).
METHODS = {"darts": "default:1,default:2,reduced:1,reduced:2",
           "pc-darts": "pc-darts:1,pc-darts-256:1"}
SCRIPT = "darts_search_step.py"


def build_step(config, order, device):
    """A function of the mode that builds the network, optimizers and static inputs of one row
    and returns its step."""
    c, layers, batch, in_ch, size, k = SHAPES[config]

    def build(mode):
        torch.manual_seed(0)
        net = SearchNetwork(c, layers, in_ch, k=k).to(device)
        for name in net.arch_names:
            setattr(net, name, getattr(net, name).to(device).requires_grad_())
        sgd = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
        # What compile mode compiles: the forward and the loss (and through them the backward).
        loss = compiled(lambda x, y: F.cross_entropy(net(x), y), mode)
        virtual_loss = compiled(lambda p, x, y: F.cross_entropy(functional_call(net, p, (x,)), y),
                                mode)
        architect = Architect(net, sgd, order == 2, loss, virtual_loss, mode == "cuda-graph")
        xt = torch.randn(batch, in_ch, size, size, device=device)
        xv = torch.randn(batch, in_ch, size, size, device=device)
        yt = torch.arange(batch, device=device) % 10
        yv = torch.roll(yt, -3)

        def step():
            architect.step(xt, yt, xv, yv)
            sgd.zero_grad()
            loss(xt, yt).backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            sgd.step()

        return step

    return build


def param_count(config):
    c, layers, _, in_ch, _, k = SHAPES[config]
    return sum(p.numel() for p in SearchNetwork(c, layers, in_ch, k=k).parameters())


def main():
    peer_main(SCRIPT, __doc__.split("\n")[0], SHAPES, METHODS["darts"], 20, build_step,
              param_count, EXPECTED_PARAMS, "img/s", lambda config: SHAPES[config][2],
              methods=METHODS)


if __name__ == "__main__":
    main()
