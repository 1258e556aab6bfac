#!/usr/bin/env python3
"""Our PyTorch version of one recurrent DARTS search step, the peer that bench_rnn_search_step is
judged against. The official rnn/model_search.py semantics (shared/reference/darts.md §7): tied
embedding/decoder, locked dropouts on the embeddings (0.2) and the cell outputs (0.75), x and h
masks drawn once per forward (0.75, 0.25), the search cell one time step at a time with one shared
affine-free BatchNorm1d on s₀ and every node, the 36×5 α mixed per node through that node's one
W_i; then the official step order: the α step (Adam 3e-3, wd 1e-3; first order on the validation
NLL, or second order: clipped virtual SGD step, the clipped validation gradient v and the
finite-difference Hessian-vector product scaled by η·clip_coef), then the weight step (NLL + TAR
1e-3, clip 0.25, SGD lr 20, wd 5e-7). The sequence length is fixed at BPTT (the reference draws
35 with probability 0.95), so the step's lr stays 20. Modes as in peer_common.py.

  python3 bench/peers/rnn_search_step.py [--steps 10] [--json out.json]
      [--rows reference:1,reference:2,small:1,small:2] [--modes eager,compile,cuda-graph]
  python3 bench/peers/rnn_search_step.py --device cpu --rows small:1 --steps 3

JSON rows as darts_search_step.py's; params counts the trained weights (tied weights once, α
excluded): 4,810,000 for the reference config, checked at start like ours
(bench_rnn_search_step's `params`)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from peer_common import compiled, peer_main

# The columns of α: none, tanh, relu, sigmoid, identity (none contributes nothing).
ACTIVATIONS = (None, torch.tanh, torch.relu, torch.sigmoid, lambda x: x)
STEPS = 8  # nodes of the cell
INIT_RANGE = 0.04


def locked_mask(batch, width, keep, like):
    """A [batch, width] 0 or 1/keep mask, drawn once per forward and reused at every time step."""
    return like.new_empty(batch, width).bernoulli_(keep) / keep


class SearchCell(nn.Module):
    def __init__(self, nhid, dropouth=0.25, dropoutx=0.75):
        super().__init__()
        self.nhid, self.dropouth, self.dropoutx = nhid, dropouth, dropoutx
        self._W0 = nn.Parameter(torch.empty(2 * nhid, 2 * nhid).uniform_(-INIT_RANGE, INIT_RANGE))
        self._Ws = nn.ParameterList(
            nn.Parameter(torch.empty(nhid, 2 * nhid).uniform_(-INIT_RANGE, INIT_RANGE))
            for _ in range(STEPS))
        self.bn = nn.BatchNorm1d(nhid, affine=False)

    def forward(self, inputs, hidden, probs):
        x_mask = locked_mask(inputs.size(1), inputs.size(2), 1 - self.dropoutx, inputs)
        h_mask = locked_mask(hidden.size(0), self.nhid, 1 - self.dropouth, hidden)
        outputs = []
        for t in range(inputs.size(0)):
            hidden = self.step(inputs[t], hidden, x_mask, h_mask, probs)
            outputs.append(hidden)
        return torch.stack(outputs)

    def step(self, x, h_prev, x_mask, h_mask, probs):
        xh = torch.cat([x * x_mask, h_prev * h_mask], -1)
        c0, h0 = torch.split(xh.mm(self._W0), self.nhid, -1)
        s0 = self.bn(h_prev + c0.sigmoid() * (h0.tanh() - h_prev))
        states, offset = s0.unsqueeze(0), 0
        for i in range(STEPS):
            ch = (states * h_mask).view(-1, self.nhid).mm(self._Ws[i])
            c, h = torch.split(ch.view(i + 1, -1, 2 * self.nhid), self.nhid, -1)
            c = c.sigmoid()
            s = torch.zeros_like(s0)
            for k, fn in enumerate(ACTIVATIONS):
                if fn is not None:
                    w = probs[offset:offset + i + 1, k].view(-1, 1, 1)
                    s = s + torch.sum(w * (states + c * (fn(h) - states)), dim=0)
            states = torch.cat([states, self.bn(s).unsqueeze(0)], 0)
            offset += i + 1
        return states[1:].mean(0)


class SearchModel(nn.Module):
    def __init__(self, vocabulary, nhid, dropout=0.75, dropouti=0.2):
        super().__init__()
        self.encoder = nn.Embedding(vocabulary, nhid)
        self.encoder.weight.data.uniform_(-INIT_RANGE, INIT_RANGE)
        self.rnns = nn.ModuleList([SearchCell(nhid)])
        self.decoder = nn.Linear(nhid, vocabulary)
        self.decoder.weight = self.encoder.weight  # tied: counted once by parameters()
        self.decoder.bias.data.zero_()
        self.dropout, self.dropouti = dropout, dropouti
        self.weights = 1e-3 * torch.randn(STEPS * (STEPS + 1) // 2, len(ACTIVATIONS))

    def forward(self, input, hidden):
        """(log-probabilities [T·B, V], raw cell outputs [T, B, H]); the next hidden state is the
        last raw output."""
        emb = self.encoder(input)
        emb = emb * locked_mask(emb.size(1), emb.size(2), 1 - self.dropouti, emb)
        raw = self.rnns[0](emb, hidden, F.softmax(self.weights, dim=-1))
        out = raw * locked_mask(raw.size(1), raw.size(2), 1 - self.dropout, raw)
        return F.log_softmax(self.decoder(out.view(-1, out.size(2))), dim=-1), raw


def clip_(grads, max_norm):
    """The reference architect's _clip with the coefficient kept on the device: grads scaled by
    min(c, 1), c = max_norm / (‖grads‖ + 1e-6) returned even when above 1."""
    coef = max_norm / (torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) + 1e-6)
    torch._foreach_mul_(grads, coef.clamp(max=1.0))
    return coef


class Architect:
    """rnn/architect.py: Adam on α; second order through one virtual SGD step (no momentum).
    `nll(params, input, hidden, target)` is the NLL and next state at the model's weights (params
    None) or at `params`."""

    def __init__(self, model, unrolled, nll, capturable, eta=20.0, wd=5e-7, clip=0.25):
        self.model, self.unrolled, self.nll = model, unrolled, nll
        self.eta, self.wd, self.clip = eta, wd, clip
        self.opt = torch.optim.Adam([model.weights], lr=3e-3, weight_decay=1e-3,
                                    capturable=capturable)

    def step(self, train, valid):
        """Returns the validation stream's next hidden state."""
        self.opt.zero_grad()
        if self.unrolled:
            hidden = self._unrolled_grad(train, valid)
        else:
            loss, hidden = self.nll(None, *valid)
            loss.backward()
        self.opt.step()
        return hidden

    def _unrolled_grad(self, train, valid):
        names, params = zip(*self.model.named_parameters())
        grads = list(torch.autograd.grad(self.nll(None, *train)[0], params))
        clip_coef = clip_(grads, self.clip)
        virtual = {n: (p.detach() - self.eta * (g + self.wd * p.detach())).requires_grad_()
                   for n, p, g in zip(names, params, grads)}
        loss, hidden = self.nll(virtual, *valid)
        out = torch.autograd.grad(loss, [self.model.weights] + list(virtual.values()))
        dalpha, vector = out[0], list(out[1:])
        clip_(vector, self.clip)
        r = 0.01 / torch.linalg.vector_norm(torch.stack(torch._foreach_norm(vector)))
        implicit = []
        for sign in (1.0, -2.0):
            with torch.no_grad():
                torch._foreach_add_(params, torch._foreach_mul(vector, sign * r))
            implicit.append(torch.autograd.grad(self.nll(None, *train)[0], [self.model.weights])[0])
        with torch.no_grad():
            torch._foreach_add_(params, torch._foreach_mul(vector, r))
        hvp = (implicit[0] - implicit[1]) / (2 * r)
        self.model.weights.grad = dalpha - self.eta * clip_coef * hvp
        return hidden


# words, nhid (= emsize), batch, BPTT: as bench_rnn_search_step's configs.
SHAPES = {"reference": (10000, 300, 256, 35), "small": (2000, 64, 32, 20)}
REFERENCE_PARAMS = 4810000  # ours (bench_rnn_search_step's `params`) and the reference's print
SCRIPT = "rnn_search_step.py"


def param_count(config):
    vocabulary, nhid, _, _ = SHAPES[config]
    return sum(p.numel() for p in SearchModel(vocabulary, nhid).parameters())


def build_step(config, order, device):
    vocabulary, nhid, batch, bptt = SHAPES[config]

    def build(mode):
        torch.manual_seed(3)
        model = SearchModel(vocabulary, nhid).to(device)
        model.weights = model.weights.to(device).requires_grad_()
        sgd = torch.optim.SGD(model.parameters(), lr=20.0, weight_decay=5e-7)

        def nll(params, input, hidden, target):
            """The NLL at the model's weights (params None) or at `params`, and the next state."""
            log_prob, raw = (model(input, hidden) if params is None
                             else functional_call(model, params, (input, hidden)))
            return F.nll_loss(log_prob, target), raw[-1].detach()

        # What compile mode compiles: the model's forward and the NLL (and the backward with them).
        nll = compiled(nll, mode)
        architect = Architect(model, order == 2, nll, mode == "cuda-graph")

        def loss_with_tar(input, hidden, target):
            log_prob, raw = model(input, hidden)
            tar = (raw[1:] - raw[:-1]).pow(2).mean()
            return F.nll_loss(log_prob, target) + 1e-3 * tar, raw[-1].detach()

        weight_loss = compiled(loss_with_tar, mode)
        ids = torch.randint(vocabulary, (2, bptt + 1, batch), device=device)
        hidden = torch.zeros(2, batch, nhid, device=device)  # the train and validation streams
        train = (ids[0, :-1], hidden[0], ids[0, 1:].reshape(-1))
        valid = (ids[1, :-1], hidden[1], ids[1, 1:].reshape(-1))

        def step():
            valid_next = architect.step(train, valid)
            sgd.zero_grad()
            loss, train_next = weight_loss(*train)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            sgd.step()
            hidden[0].copy_(train_next)  # in place: the streams' state stays a static input
            hidden[1].copy_(valid_next)

        return step

    return build


def main():
    peer_main(SCRIPT, __doc__.split("\n")[0], SHAPES, "reference:1,reference:2,small:1,small:2",
              10, build_step, param_count, [("reference", REFERENCE_PARAMS)], "tokens/s",
              lambda config: SHAPES[config][2] * SHAPES[config][3])


if __name__ == "__main__":
    main()
