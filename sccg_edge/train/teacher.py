"""The scCycleGAN teacher: both translation directions trained together.

Networks: ``g_mr2ct`` (MR -> synthetic CT), ``g_ct2mr`` (CT -> synthetic MR), and one PatchGAN per target domain
(``d_ct``, ``d_mr``). One optimisation step on a batch of pairs (mr, ct) does, for each direction X -> Y:

* generator loss: lambda_adv * LSGAN(D_Y(G(x))) + lambda_pix * D-weighted L1(G(x), y) [paired data only]
  + lambda_str * SC structure loss(x, G(x)) + lambda_cyc * L1(F(G(x)), x) [+ lambda_idt * L1(G(y), y)]
  [+ lambda_ssim * (1 - SSIM(G(x), y)), paired data only];
* discriminator loss: LSGAN(D_Y(y), D_Y(G(x).detach())).

With ``lambda_cyc = 0`` (the paired mode of the ``cpu`` recipe) no generator runs twice: each direction is a
conditional GAN on its own pairs, and ``loss.conditional_d`` lets each discriminator see the input beside the output
(pix2pix). ``ema > 0`` keeps an exponential moving average of each generator (``g_*_ema``), which validation, the best
checkpoint's choice and every model loaded from the run use.

Data parallelism: under ``torchrun`` every rank takes a strided share of each epoch's permutation and gradients are
all-reduced (averaged) before each optimizer step, so all ranks keep identical weights; rank 0 alone validates,
logs and checkpoints. BatchNorm batch statistics are per-rank; running statistics are broadcast from rank 0
after every step (as DDP's ``broadcast_buffers``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from sccg_edge.config.train import TrainConfig
from sccg_edge.engine.parallel import allreduce_grads, broadcast_buffers, set_requires_grad
from sccg_edge.losses import cycle_loss, identity_loss, lsgan_d_loss, lsgan_g_loss, structure_loss, weighted_pixel_l1
from sccg_edge.losses.ssim import ssim_loss
from sccg_edge.models.discriminator import PatchDiscriminator
from sccg_edge.models.generator import Generator, build_generator
from sccg_edge.models.init import init_weights

DIRECTIONS = ("mr2ct", "ct2mr")


@dataclass
class Networks:
    """The four networks of the CycleGAN, keyed as they are saved."""

    g_mr2ct: Generator
    g_ct2mr: Generator
    d_ct: PatchDiscriminator
    d_mr: PatchDiscriminator
    ema_mr2ct: Generator | None = None  # weight averages (TrainConfig.ema > 0), saved as g_mr2ct_ema / g_ct2mr_ema
    ema_ct2mr: Generator | None = None
    conditional: bool = False  # discriminators see (input, output) stacked

    def as_dict(self) -> dict[str, nn.Module]:
        nets = {"g_mr2ct": self.g_mr2ct, "g_ct2mr": self.g_ct2mr, "d_ct": self.d_ct, "d_mr": self.d_mr}
        if self.ema_mr2ct is not None and self.ema_ct2mr is not None:
            nets.update(g_mr2ct_ema=self.ema_mr2ct, g_ct2mr_ema=self.ema_ct2mr)
        return nets

    def inference(self) -> tuple[nn.Module, nn.Module]:
        """The generators to validate and ship: the weight averages when kept, else the trained weights."""
        if self.ema_mr2ct is not None and self.ema_ct2mr is not None:
            return self.ema_mr2ct, self.ema_ct2mr
        return self.g_mr2ct, self.g_ct2mr

    @torch.no_grad()
    def update_ema(self, decay: float, step: int) -> None:
        """ema <- d * ema + (1 - d) * weights for both generators (buffers are copied), after optimisation step
        ``step`` (0-based). ``d = min(decay, (1 + step) / (10 + step))``: a warm-up, so that a short run's average
        is not dominated by the random initial weights (0.995 alone keeps 40 % of them after 180 steps)."""
        decay = min(decay, (1.0 + step) / (10.0 + step))
        for ema, gen in ((self.ema_mr2ct, self.g_mr2ct), (self.ema_ct2mr, self.g_ct2mr)):
            if ema is None:
                continue
            for e, p in zip(ema.parameters(), gen.parameters()):
                e.lerp_(p.detach(), 1.0 - decay)
            for e, b in zip(ema.buffers(), gen.buffers()):
                e.copy_(b)

    def d_input(self, src: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
        """What a discriminator sees of ``img`` (translated from ``src``): the image, or both stacked."""
        return torch.cat([src, img], dim=1) if self.conditional else img

    def generators(self) -> list[nn.Module]:
        return [self.g_mr2ct, self.g_ct2mr]

    def discriminators(self) -> list[nn.Module]:
        return [self.d_ct, self.d_mr]


def build_networks(cfg: TrainConfig, seed: int) -> Networks:
    """Create the four networks with a seeded initialisation (normal(0, 0.02), as CycleGAN)."""
    torch.manual_seed(seed)
    conditional = cfg.loss.conditional_d and cfg.loss.paired
    d_in = 2 if conditional else 1
    nets = Networks(
        g_mr2ct=build_generator(cfg.model.generator, **cfg.model.overrides()),
        g_ct2mr=build_generator(cfg.model.generator, **cfg.model.overrides()),
        d_ct=PatchDiscriminator(in_ch=d_in, ndf=cfg.model.ndf),
        d_mr=PatchDiscriminator(in_ch=d_in, ndf=cfg.model.ndf),
        conditional=conditional,
    )
    for module in nets.as_dict().values():
        module.apply(init_weights)
    if cfg.ema > 0:
        nets.ema_mr2ct, nets.ema_ct2mr = copy.deepcopy(nets.g_mr2ct), copy.deepcopy(nets.g_ct2mr)
        for ema in (nets.ema_mr2ct, nets.ema_ct2mr):
            ema.requires_grad_(False)
    return nets


def generator_loss(nets: Networks, mr: torch.Tensor, ct: torch.Tensor, cfg: TrainConfig) -> tuple[torch.Tensor, dict]:
    """Total generator loss of both directions and its named terms (floats, for logging)."""
    lo = cfg.loss
    fake_ct, fake_mr = nets.g_mr2ct(mr), nets.g_ct2mr(ct)
    d_fake_ct, d_fake_mr = nets.d_ct(nets.d_input(mr, fake_ct)), nets.d_mr(nets.d_input(ct, fake_mr))
    terms: dict[str, torch.Tensor] = {"adv": lsgan_g_loss(d_fake_ct) + lsgan_g_loss(d_fake_mr)}
    if lo.lambda_str:  # the SC maps cost a noticeable share of a CPU step: skip them when unweighted
        terms["str"] = structure_loss(mr, fake_ct) + structure_loss(ct, fake_mr)
    weights = {"adv": lo.lambda_adv, "str": lo.lambda_str, "cyc": lo.lambda_cyc, "pix": lo.lambda_pix,
               "idt": lo.lambda_idt, "ssim": lo.lambda_ssim}
    if lo.lambda_cyc:
        terms["cyc"] = cycle_loss(nets.g_ct2mr(fake_ct), mr) + cycle_loss(nets.g_mr2ct(fake_mr), ct)
    if lo.paired and lo.lambda_pix:
        terms["pix"] = (weighted_pixel_l1(fake_ct, ct, d_fake_ct, floor=lo.pix_floor)
                        + weighted_pixel_l1(fake_mr, mr, d_fake_mr, floor=lo.pix_floor))
    if lo.paired and lo.lambda_ssim:
        terms["ssim"] = ssim_loss(fake_ct, ct) + ssim_loss(fake_mr, mr)
    if lo.lambda_idt:
        terms["idt"] = identity_loss(nets.g_mr2ct(ct), ct) + identity_loss(nets.g_ct2mr(mr), mr)
    total = sum(weights[k] * v for k, v in terms.items())
    logs = {f"g_{k}": float(v.detach()) for k, v in terms.items()}
    return total, {**logs, "fake_ct": fake_ct.detach(), "fake_mr": fake_mr.detach()}


def discriminator_loss(nets: Networks, mr: torch.Tensor, ct: torch.Tensor, fake_ct: torch.Tensor,
                       fake_mr: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """LSGAN loss of both discriminators on real targets and (detached) generated ones."""
    d_ct = lsgan_d_loss(nets.d_ct(nets.d_input(mr, ct)), nets.d_ct(nets.d_input(mr, fake_ct)))
    d_mr = lsgan_d_loss(nets.d_mr(nets.d_input(ct, mr)), nets.d_mr(nets.d_input(ct, fake_mr)))
    return d_ct + d_mr, {"d_ct": float(d_ct.detach()), "d_mr": float(d_mr.detach())}


def train_step(nets: Networks, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, mr: torch.Tensor,
               ct: torch.Tensor, cfg: TrainConfig, autocast: Any, scaler: Any = None, step: int = 0) -> dict[str, float]:
    """One optimisation step of generators then discriminators; returns the logged loss terms.

    ``step`` is the run's global step (the EMA warm-up). ``scaler`` (a ``torch.amp.GradScaler``) is used for FP16
    autocast on CUDA; gradients are all-reduced while
    still scaled (every rank uses the same scale) and unscaled before the optimizer step.
    """
    set_requires_grad(nets.discriminators(), False)
    opt_g.zero_grad(set_to_none=True)
    with autocast():
        g_total, logs = generator_loss(nets, mr, ct, cfg)
    _backward_step(g_total, opt_g, nets.generators(), scaler)
    if cfg.ema > 0:
        nets.update_ema(cfg.ema, step)

    set_requires_grad(nets.discriminators(), True)
    opt_d.zero_grad(set_to_none=True)
    with autocast():
        d_total, d_logs = discriminator_loss(nets, mr, ct, logs.pop("fake_ct"), logs.pop("fake_mr"))
    _backward_step(d_total, opt_d, nets.discriminators(), scaler)
    if scaler is not None:
        scaler.update()
    broadcast_buffers(nets.discriminators())
    return {"g_total": float(g_total.detach()), **logs, **d_logs}


def _backward_step(loss: torch.Tensor, opt: torch.optim.Optimizer, modules: list[nn.Module], scaler: Any) -> None:
    if scaler is None:
        loss.backward()
        allreduce_grads(modules)
        opt.step()
        return
    scaler.scale(loss).backward()
    allreduce_grads(modules)
    scaler.step(opt)  # unscales, skips the step if any gradient is inf/nan
