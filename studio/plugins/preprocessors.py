"""The ControlNet preprocessors Studio offers, as pure data (no torch): the window lists them before the
engine is imported; engine/preprocessors.py runs them through controlnet-aux."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preprocessor:
    id: str
    label: str
    detector: str  # controlnet_aux class name
    weights: tuple[str, ...] = ()  # files the detector loads from the annotators folder
    options: dict = field(default_factory=dict)  # keyword arguments for from_pretrained


PREPROCESSORS = {
    p.id: p
    for p in (
        Preprocessor("canny", "Canny edges", "CannyDetector"),
        Preprocessor("shuffle", "Content shuffle", "ContentShuffleDetector"),
        Preprocessor("lineart_standard", "Line art (standard)", "LineartStandardDetector"),
        Preprocessor("depth", "Depth (MiDaS)", "MidasDetector", ("dpt_hybrid-midas-501f0c75.pt",)),
        Preprocessor("depth_zoe", "Depth (ZoeDepth)", "ZoeDetector", ("ZoeD_M12_N.pt",)),
        Preprocessor("pose", "Pose (OpenPose)", "OpenposeDetector", ("body_pose_model.pth", "hand_pose_model.pth", "facenet.pth")),
        Preprocessor("softedge", "Soft edge (HED)", "HEDdetector", ("ControlNetHED.pth",)),
        Preprocessor("softedge_pidi", "Soft edge (PiDiNet)", "PidiNetDetector", ("table5_pidinet.pth",)),
        Preprocessor("lineart", "Line art", "LineartDetector", ("sk_model.pth", "sk_model2.pth")),
        Preprocessor("lineart_anime", "Line art (anime)", "LineartAnimeDetector", ("netG.pth",)),
        Preprocessor("normal", "Normal map (BAE)", "NormalBaeDetector", ("scannet.pt",)),
        Preprocessor("mlsd", "Straight lines (M-LSD)", "MLSDdetector", ("mlsd_large_512_fp32.pth",)),
    )
}

NO_WEIGHTS = tuple(p.id for p in PREPROCESSORS.values() if not p.weights)
