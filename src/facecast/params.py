"""Typed, validated parameters: one model per section of ``params.yaml``.

Every stage calls :func:`load` with the name of its own section. The file's
top-level keys are checked against the known sections, then the stage's
section (and the shared ``seed``) is validated. Unknown keys, wrong types and
impossible values raise :class:`ParamsError` before the stage does any work,
with a message naming the key and what it expected.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from facecast.errors import ParamsError


class Section(BaseModel):
    """Base of every section: unknown keys, silent type coercion and non-finite numbers (.inf, .nan) are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class SampleParams(Section):
    """The embedded default built from the ``openpeople`` package."""

    people: int = Field(10, ge=1, le=10, description="how many openpeople subjects, in id order")
    donor_only: list[str] = Field(
        default_factory=list,
        description="of those people, the ones written only as donors (no clip): the footage is of the others, so "
        "no identity resembles a person of the footage; empty: every person is both filmed and a donor",
    )
    expressions: int = Field(16, ge=1, le=16, description="how many of the 16 sheet expressions, in sheet order")
    hold_frames: int = Field(10, ge=1, le=250, description="frames each expression is held")
    morph_frames: int = Field(8, ge=1, le=250, description="frames of landmark-guided morph between expressions")
    fps: float = Field(25.0, gt=0, le=240)
    frame_width: int = Field(480, ge=64, le=4096)
    frame_height: int = Field(360, ge=64, le=4096)

    @model_validator(mode="after")
    def _donors_among_people(self) -> SampleParams:
        known = [f"P{n:03d}" for n in range(1, self.people + 1)]
        unknown = [d for d in self.donor_only if d not in known]
        if unknown:
            raise ValueError(
                f"donor_only: {', '.join(unknown)} not among the first {self.people} people ({known[0]}..)"
            )
        if len(set(self.donor_only)) != len(self.donor_only):
            raise ValueError("donor_only: a person is listed twice")
        if len(self.donor_only) >= self.people:
            raise ValueError("donor_only: every person would be a donor only, and the sample would have no footage")
        return self


class InputParams(Section):
    """Where the footage and the donor gallery are."""

    root: str = Field("data/sample", min_length=1, description="folder with clips/, labels.csv, subjects.csv")
    donors: str = Field(
        "data/sample/donors", min_length=1, description="folder with one sub-folder per donor and donors.csv"
    )


class IngestParams(Section):
    """How strictly label problems are treated (see README: 'What stops ingest')."""

    strict_labels: bool = Field(
        False,
        description="true: any label row problem (unknown clip, overlap, out of range) stops the stage; "
        "false: the row is recorded in ingest_issues.parquet and the stage goes on",
    )
    image_fps: float = Field(
        25.0,
        gt=0,
        le=1000,
        description="frame rate given to clips that are folders of images (they carry none), and to videos "
        "whose container reports none (recorded as a 'no_fps' issue); frame timestamps are frame_idx / fps",
    )
    stills: Literal["auto", "always", "never"] = Field(
        "auto",
        description="whether an image-folder clip is a set of separate photographs (stills: the faces stage "
        "searches every image and follows no face from one image to the next) rather than a sequence: 'auto' "
        "decides per folder (its images differ in size, or optical flow follows fewer than half of the points "
        "between most consecutive images), 'always', 'never' (a folder whose image size changes is then "
        "unreadable); videos are always sequences",
    )


class FacesParams(Section):
    """Detection, landmarks, tracking and embedding of every face."""

    detector: Literal["mtcnn"] = "mtcnn"
    min_face_size: int = Field(20, ge=8, le=1024, description="smallest face MTCNN looks for, in pixels")
    thresholds: tuple[float, float, float] = Field(
        (0.6, 0.7, 0.7), strict=False, description="MTCNN P-, R-, O-net thresholds, each in (0, 1)"
    )
    min_det_score: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="an MTCNN detection at or above this score is a face to swap (landmarks fitted); a region found "
        "only below it (or only by another detector) is kept box-only and obscured",
    )
    detectors: tuple[Literal["mtcnn", "centerface", "dlib_hog"], ...] = Field(
        ("mtcnn", "centerface"),
        strict=False,
        min_length=1,
        description="detectors run on each detector frame: every region any of them finds at its low threshold "
        "becomes a face row (tracked); mtcnn must be one of them (it decides swap vs obscure)",
    )
    low_threshold: float = Field(
        0.7,
        gt=0.0,
        le=1.0,
        description="MTCNN score from which a region becomes a face row; below min_det_score it is obscured",
    )
    centerface_threshold: float = Field(
        0.5, gt=0.0, lt=1.0, description="CenterFace score from which a region becomes a face row (obscured)"
    )
    upscale: int = Field(
        1,
        ge=1,
        le=4,
        description="MTCNN searches each clip frame enlarged this many times (2: faces down to min_face_size / 2 px "
        "are found, at about 2 times the detector's cost); 1: as it is",
    )
    pad_frames: int = Field(
        5,
        ge=0,
        le=1000,
        description="frames before a track's first face and after its last given its nearest box (obscured), so "
        "a face that appears or leaves between detector frames is still covered",
    )
    detect_every: int = Field(5, ge=1, le=100, description="run the detector on every n-th frame, track in between")
    embed_every: int = Field(5, ge=1, le=100, description="compute the 128-D embedding on every n-th frame of a track")
    min_landmark_size: int = Field(
        40, ge=8, le=1024, description="faces smaller than this (box height, px) get no landmarks"
    )
    track_iou: float = Field(0.3, gt=0.0, lt=1.0, description="IoU that links a detection to a track")
    max_gap: int = Field(10, ge=0, le=1000, description="longest gap (frames) filled by interpolation")
    smooth_min_cutoff: float = Field(1.0, gt=0.0, description="One-Euro filter cutoff (Hz) for landmark smoothing")
    smooth_beta: float = Field(
        0.05, ge=0.0, description="One-Euro filter speed coefficient: higher follows fast motion sooner"
    )
    workers: int = Field(2, ge=1, le=64, description="clips processed in parallel")
    donor_max_side: int = Field(
        1024,
        ge=64,
        le=8192,
        description="donor images larger than this (longer side, px) are searched for faces at this size",
    )

    @field_validator("detectors", mode="before")
    @classmethod
    def _detector_list(cls, value: Any) -> Any:
        # YAML gives a list of names; mtcnn decides which regions are swapped, so it is always there.
        if not isinstance(value, (list, tuple)) or any(not isinstance(v, str) for v in value):
            raise ValueError("expected a list of detector names (mtcnn, centerface, dlib_hog)")
        if "mtcnn" not in value:
            raise ValueError("mtcnn must be one of the detectors (its score decides swap vs obscure)")
        if len(set(value)) != len(value):
            raise ValueError("a detector is named twice")
        return tuple(value)

    @field_validator("low_threshold")
    @classmethod
    def _low_not_above_high(cls, value: float, info: ValidationInfo) -> float:
        high = info.data.get("min_det_score")
        if high is not None and value > high:
            raise ValueError(f"low_threshold {value:g} is above min_det_score {high:g}")
        return value

    @field_validator("thresholds", mode="before")
    @classmethod
    def _three_numbers(cls, value: Any) -> Any:
        # YAML gives a list; accept it, but only of three real numbers (no strings, no booleans).
        if not isinstance(value, (list, tuple)) or len(value) != 3:
            raise ValueError("expected a list of three numbers")
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
            raise ValueError("expected a list of three numbers")
        if any(not 0.0 < v < 1.0 for v in value):
            raise ValueError("each threshold must be in (0, 1)")
        return tuple(float(v) for v in value)


class AttributesParams(Section):
    """How apparent age and sex are read: faces (every track) and cast (identities, compatibility)."""

    age_groups: dict[str, float] = Field(
        default_factory=lambda: {"child": 0.0, "teen": 13.0, "adult": 18.0, "older": 60.0},
        description="group -> the youngest age (years) in it; the youngest group starts at 0",
    )
    protect: list[str] = Field(
        default_factory=lambda: ["child", "teen"],
        description="groups a face is put in, youngest first, as soon as its probability of being in them (with "
        "the younger protected groups) reaches protect_probability, even when another group is likelier",
    )
    protect_probability: float = Field(
        0.1, gt=0.0, le=1.0, description="probability from which a face counts as a protected group"
    )
    min_sex_confidence: float = Field(
        0.8,
        ge=0.5,
        le=1.0,
        description="probability of the likelier sex from which a track's sex is taken as measured "
        "(below it: unknown, compatible with either)",
    )

    @field_validator("age_groups")
    @classmethod
    def _ascending_from_zero(cls, groups: dict[str, float]) -> dict[str, float]:
        ages = list(groups.values())
        if len(ages) < 2:
            raise ValueError("expected at least two groups")
        if any(not isinstance(a, (int, float)) or isinstance(a, bool) for a in ages):
            raise ValueError("expected a number of years for each group")
        if min(ages) != 0:
            raise ValueError(f"the youngest group must start at 0 years, got {min(ages):g}")
        if len(set(ages)) != len(ages):
            raise ValueError("two groups start at the same age")
        return {k: float(v) for k, v in sorted(groups.items(), key=lambda kv: kv[1])}  # youngest first

    @field_validator("protect")
    @classmethod
    def _protect_known_groups(cls, protect: list[str], info: ValidationInfo) -> list[str]:
        groups = info.data.get("age_groups")
        if groups is None:
            return protect
        unknown = [g for g in protect if g not in groups]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} not in attributes.age_groups ({', '.join(groups)})")
        return protect


SHARE_TOLERANCE = 1e-6
_RESERVED_ATTRIBUTES = ("donor_id", "identity_id", "share")

Name = Annotated[str, Field(min_length=1)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


def _sum_to_one(shares: dict[str, float]) -> dict[str, float]:
    if not shares:
        raise ValueError("expected at least one category with its share")
    total = sum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"shares sum to {total:g}, expected 1")
    return shares


Shares = Annotated[dict[Name, Share], AfterValidator(_sum_to_one)]
MatchAttribute = Literal["age_group", "sex"]
PreferAttribute = Literal["sex", "age", "skin_tone"]


class CastParams(Section):
    """Synthetic identities under demographic quotas, and the casting plan (see issue 'Stage cast')."""

    identities: int = Field(6, ge=1, le=100_000, description="distinct synthetic people to create")
    variants_per_track: int = Field(
        1, ge=1, le=64, description="recasts of each original track, each played by a different identity"
    )
    donors_per_identity: int = Field(
        3, ge=1, le=64, description="donors blended into one identity, all from the identity's quota cell"
    )
    quotas: dict[Name, Shares] = Field(
        default_factory=dict,
        description="marginal shares per declared attribute: attribute -> {category: share}, each summing to 1; "
        "an identity's quota cell is one category of every attribute listed here",
    )
    bins: dict[Name, dict[Name, Name]] = Field(
        default_factory=dict,
        description="attribute -> {donor value: category}; an attribute with no bins uses the donor values "
        "as categories",
    )
    joint: list[dict[Name, str | float]] | None = Field(
        None,
        description="explicit joint quotas overriding the fit of the marginals: a list of "
        "{<attribute>: <category> for every quota attribute, share: <share>}; cells not listed get 0",
    )
    balance_by: Literal["published", "frames", "identities"] = Field(
        "published",
        description="published: shares met over the published images (cast plans them over frames, manifest "
        "leaves out passing images of the cells the gate favoured); frames: over the planned output frames; "
        "identities: over the identities",
    )
    on_shortfall: Literal["error", "relax"] = Field(
        "error",
        description="error: stop with a table of target vs possible when the gallery cannot meet the quotas; "
        "relax: get as close as the gallery allows and report the gap",
    )
    method: Literal["morph"] = Field("morph", description="how an identity is synthesised from its donors")
    face_size: int = Field(512, ge=512, le=4096, description="side of the canonical identity face image, px")
    min_donor_distance: float = Field(
        0.6, gt=0.0, le=2.0, description="dlib embedding distance an identity must keep from every donor's centroid"
    )
    min_identity_distance: float = Field(
        0.6, gt=0.0, le=2.0, description="dlib embedding distance an identity must keep from every other identity"
    )
    min_track_distance: float = Field(
        0.6,
        gt=0.0,
        le=2.0,
        description="a donor or identity closer than this to a track's embedding centroid is never cast on it",
    )
    max_attempts: int = Field(
        200, ge=1, le=100_000, description="candidate syntheses tried per identity before it counts as failed"
    )
    frontal_max_deg: float = Field(
        25.0, gt=0.0, le=90.0, description="a donor face is frontal when |yaw| and |pitch| are at most this"
    )
    match: list[MatchAttribute] = Field(
        default_factory=lambda: list[MatchAttribute](["age_group"]),
        description="an identity is cast only on tracks whose measured category of these it shares; a track no "
        "identity shares them with is obscured (no_compatible_identity)",
    )
    max_age_gap_years: float | None = Field(
        20.0,
        gt=0.0,
        le=100.0,
        description="an identity is cast only on tracks whose apparent age is within this many years of its own "
        "measured age (null: no limit); a track no identity is that close to is obscured (no_compatible_identity)",
    )
    prefer_same: list[PreferAttribute] = Field(
        default_factory=lambda: list[PreferAttribute](["sex", "age", "skin_tone"]),
        description="where the quotas leave a choice, the identity closest to the track in these",
    )
    check_attributes: bool = Field(
        True,
        description="a candidate identity whose measured sex or age group contradicts what its donors declare "
        "is rejected, like one too near a donor",
    )
    atlas: bool = Field(
        True,
        description="render each identity in every expression its donors were photographed in (its expression "
        "atlas: identities/<id>/atlas/), each entry kept only at min_donor_distance from every donor; swap picks "
        "entries by the frame's expression",
    )
    atlas_margin: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="when its donors have expression photographs, an identity is searched this much beyond "
        "min_donor_distance: its expressions lie closer to its donors than the face the search stopped at "
        "(median 0.044 closer on the embedded default), and an entry still within min_donor_distance is dropped",
    )

    @field_validator("quotas")
    @classmethod
    def _attributes_not_reserved(cls, quotas: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for attribute in quotas:
            if attribute in _RESERVED_ATTRIBUTES:
                raise ValueError(f"'{attribute}' is not a declared attribute and cannot have quotas")
        return quotas

    @field_validator("bins")
    @classmethod
    def _bins_reach_quota_categories(
        cls, bins: dict[str, dict[str, str]], info: ValidationInfo
    ) -> dict[str, dict[str, str]]:
        quotas = info.data.get("quotas")
        if quotas is None:  # quotas themselves were invalid; that error is reported
            return bins
        for attribute, mapping in bins.items():
            if not mapping:
                raise ValueError(f"{attribute}: expected at least one 'donor value: category' pair")
            if attribute not in quotas:
                continue
            categories = quotas[attribute]
            for value, category in mapping.items():
                if category not in categories:
                    raise ValueError(
                        f"{attribute}.{value} maps to '{category}', which is not a category of "
                        f"cast.quotas.{attribute} ({', '.join(categories)})"
                    )
            reached = set(mapping.values())
            for category, share in categories.items():
                if share > 0 and category not in reached:
                    raise ValueError(
                        f"no value of {attribute} maps to '{category}', which has a share in cast.quotas.{attribute}"
                    )
        return bins

    @field_validator("joint")
    @classmethod
    def _joint_matches_quotas(
        cls, joint: list[dict[str, Any]] | None, info: ValidationInfo
    ) -> list[dict[str, Any]] | None:
        quotas = info.data.get("quotas")
        if joint is None or quotas is None:
            return joint
        if not quotas:
            raise ValueError("needs cast.quotas to list the attributes and categories it combines")
        if not joint:
            raise ValueError("expected at least one cell, or null for none")
        seen: set[tuple[str, ...]] = set()
        implied = {a: dict.fromkeys(c, 0.0) for a, c in quotas.items()}
        for n, entry in enumerate(joint, start=1):
            share = entry.get("share")
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
                raise ValueError(f"entry {n}: expected 'share' to be a number in [0, 1]")
            named = {k for k in entry if k != "share"}
            if named != set(quotas):
                raise ValueError(
                    f"entry {n}: expected exactly the quota attributes ({', '.join(quotas)}) and share, got "
                    f"{', '.join(sorted(named)) or 'none'}"
                )
            for attribute, categories in quotas.items():
                if entry[attribute] not in categories:
                    raise ValueError(
                        f"entry {n}: {attribute} '{entry[attribute]}' is not a category of cast.quotas.{attribute} "
                        f"({', '.join(categories)})"
                    )
                implied[attribute][entry[attribute]] += share
            cell = tuple(entry[a] for a in quotas)
            if cell in seen:
                raise ValueError(f"entry {n}: cell {', '.join(cell)} is listed twice")
            seen.add(cell)
        total = sum(entry["share"] for entry in joint)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise ValueError(f"shares sum to {total:g}, expected 1")
        for attribute, shares in implied.items():
            for category, share in shares.items():
                if abs(share - quotas[attribute][category]) > SHARE_TOLERANCE:
                    raise ValueError(
                        f"gives {attribute} '{category}' a share of {share:g}, but cast.quotas.{attribute}.{category} "
                        f"is {quotas[attribute][category]:g}"
                    )
        return joint


class SwapParams(Section):
    """How every face is rendered as its cast identity, and what happens to a face that cannot be (stage swap)."""

    blend: Literal["feather", "poisson"] = Field(
        "feather",
        description="feather: alpha blend through the soft mask, after the colour transfer; poisson: gradient-domain "
        "cloning (OpenCV seamlessClone), whose edge takes the frame's colour (hair or background at the forehead "
        "can grey the face)",
    )
    fallback: Literal["fill", "blur", "pixelate", "solid", "drop_frame"] = Field(
        "fill",
        description="what a face that cannot be swapped well gets (per face, recorded with the reason): fill (an "
        "oval of the head's mean colour, softly mottled: no detector finds a face there, dlib distance >= 0.6 "
        "at the 5th percentile from 40 px faces up), solid (a rectangle of the mean colour: as fill), blur "
        "(no detector finds a face, but the 5th percentile only reaches 0.60-0.61: it does not pass at every "
        "size) or pixelate (0.56-0.58: it does not pass at any size); or drop_frame: the whole frame is not "
        "published. Below about 40 px no obscuring reaches 0.6 for every face: a blank frame does not",
    )
    jpeg_quality: int = Field(92, ge=50, le=100, description="quality of the swapped JPEG frames")
    min_face_px: float = Field(
        40.0, gt=0, le=4096, description="faces whose box is shorter than this (px) are obscured, not swapped"
    )
    max_yaw_deg: float = Field(45.0, gt=0.0, le=90.0, description="faces turned further than this are obscured")
    max_pitch_deg: float = Field(35.0, gt=0.0, le=90.0, description="faces tilted further than this are obscured")
    mask_margin: float = Field(
        0.11,
        ge=0.0,
        le=1.0,
        description="how far the rendered face reaches beyond the original jaw line, as a share of the "
        "inter-ocular distance (eye centre to eye centre), so no original jaw or beard edge survives",
    )
    feather: float = Field(
        0.04,
        gt=0.0,
        le=0.5,
        description="width of the mask's soft edge, centred on its outline, as a share of the face's height",
    )
    colour_smooth_frames: float = Field(
        3.0, ge=0.0, le=100.0, description="Gaussian sigma (frames) smoothing the frame's skin colour statistics"
    )
    keep_mouth: bool = Field(
        True, description="keep the frame's open-mouth interior (teeth, tongue), moved into the new lips"
    )
    mouth_open_min: float = Field(
        0.07,
        ge=0.0,
        le=2.0,
        description="the mouth counts as open when the inner-lip gap is at least this share of the inter-ocular "
        "distance (eye centre to eye centre)",
    )
    keep_eyes: bool = Field(
        True,
        description="keep the frame's eyeballs, moved into the new eyelids, so gaze and blinks follow the original",
    )
    atlas: bool = Field(
        True,
        description="render each frame from the identity's expression atlas entries nearest the frame's expression "
        "(cast.atlas); false: from its reference face only",
    )
    atlas_softness: float = Field(
        0.02,
        gt=0.0,
        le=1.0,
        description="how widely entries are blended: an entry's weight is exp(-d^2 / (2 softness^2)) of its "
        "expression's RMS landmark distance d from the frame's (inter-ocular distances)",
    )
    keep_hair: bool = Field(
        True, description="hair over the forehead (colour far from the person's skin) kept from the frame in front"
    )
    atlas_smooth_frames: float = Field(
        2.0, ge=0.0, le=100.0, description="Gaussian sigma (frames) smoothing the entries' weights over a track"
    )
    expression_detail: Literal["auto", "always", "never"] = Field(
        "auto",
        description="carry the frame's wrinkles and folds onto the identity (expression ratio images): auto, "
        "in proportion as the atlas lacks the frame's expression (fully from 2 x detail_from); always; never",
    )
    detail_from: float = Field(
        0.05,
        gt=0.0,
        le=1.0,
        description="auto expression detail starts when the nearest atlas entry's expression is this far from "
        "the frame's (RMS landmark distance, inter-ocular distances)",
    )
    light: Literal["shading", "statistics"] = Field(
        "shading",
        description="shading: the face takes the frame's light, its level and gradient across the face per Lab "
        "channel (a face lit from one side stays so); statistics: only the skin's mean and spread (Reinhard)",
    )
    occlusion: bool = Field(True, description="detect what passes in front of a face (hand, cup, phone) and keep it")
    preview: bool = Field(True, description="write an mp4 preview of every swapped clip")
    verify: bool = Field(
        True,
        description="measure every swapped face as the gate will (dlib) and obscure one still recognisable as its own "
        "person (within gate.deid.min_distance of its centroid, or its person the nearest of every original and "
        "donor): reason not_deidentified; the frame is then published with that face obscured instead of rejected",
    )
    workers: int = Field(2, ge=1, le=64, description="threads rendering frames (in each process)")
    processes: int = Field(
        2, ge=1, le=64, description="clips rendered in parallel processes (the local executor; 1: in the stage)"
    )


class GateDeidParams(Section):
    min_distance: float = Field(
        0.6,
        gt=0.0,
        le=2.0,
        description="a swapped face must be at least this dlib distance from its original's centroid",
    )


class GateIdentityParams(Section):
    max_distance: float | None = Field(
        None,
        gt=0.0,
        le=2.0,
        description="optional: reject a face further than this from its cast identity (null: report only)",
    )


class GateLandmarkParams(Section):
    percentile: float = Field(
        95.0,
        gt=0.0,
        le=100.0,
        description="per track (clip, variant, track), faces above this percentile of that track's landmark "
        "errors are rejected; a track too short for the percentile to mean anything gets the cap only",
    )
    max_error: float = Field(
        0.21,
        gt=0.0,
        le=10.0,
        description="absolute cap on the landmark error (mean distance / inter-ocular distance, eye centre to eye "
        "centre)",
    )


class GateExpressionParams(Section):
    min_pcc: float = Field(
        0.5,
        ge=-1.0,
        le=1.0,
        description="a track whose mean expression correlation (original vs swapped) is below this has its faces "
        "rejected; a series too short to tell this correlation from none is not_measurable and rejects nothing",
    )
    min_signal_px: float = Field(
        1.0,
        ge=0.0,
        le=100.0,
        description="a feature is judged only where the original face's series varies by at least this many pixels "
        "(its standard deviation); below, a landmark fit on the output cannot follow it: not_measurable",
    )


class GateLeakParams(Section):
    detector_threshold: float = Field(
        0.5, gt=0.0, lt=1.0, description="CenterFace score above which a detection counts as a face"
    )
    reject_resembling_others: bool = Field(
        False,
        description="also reject a frame where a face lies within deid.min_distance of ANOTHER original person "
        "(false: recorded as resembles_other only; real people lie that close to each other)",
    )


class GateAuditParams(Section):
    detectors: tuple[Literal["dlib_hog", "mtcnn"], ...] = Field(
        ("dlib_hog", "mtcnn"),
        strict=False,
        min_length=1,
        description="detectors the gate does not decide with, scanning passed frames for face regions left unchanged",
    )


class GateParams(Section):
    """Verification of every swapped face, and the verdict that lets it into the dataset (stage gate)."""

    deid: GateDeidParams = Field(default_factory=GateDeidParams)
    identity: GateIdentityParams = Field(default_factory=GateIdentityParams)
    landmarks: GateLandmarkParams = Field(default_factory=GateLandmarkParams)
    expression: GateExpressionParams = Field(default_factory=GateExpressionParams)
    leaks: GateLeakParams = Field(default_factory=GateLeakParams)
    audit: GateAuditParams = Field(default_factory=GateAuditParams)
    reuse_swap_measures: bool = Field(
        True,
        description="a swapped face swap.verify measured on the very JPEG gate reads (same sha256) keeps that "
        "measure (dlib's re-fitted landmarks and descriptor) instead of being measured again; false: every face "
        "is measured again",
    )
    workers: int = Field(2, ge=1, le=64, description="processes measuring clips in parallel")
    segment_frames: int = Field(
        250,
        ge=1,
        le=1_000_000,
        description="frames per task: a longer clip is measured and audited in segments of at most this many "
        "frames, side by side, fewer when there would otherwise be fewer tasks than workers (the results are the "
        "same whatever the size)",
    )


DEFAULT_POLICY: dict[str, Any] = {
    "__version__": "2.0.8",
    "transform": {
        "__class_fullname__": "ReplayCompose",
        "p": 1.0,
        "transforms": [
            {"__class_fullname__": "HorizontalFlip", "p": 0.5},
            {
                "__class_fullname__": "RandomBrightnessContrast",
                "p": 0.8,
                "brightness_limit": [-0.2, 0.2],
                "contrast_limit": [-0.2, 0.2],
            },
            {
                "__class_fullname__": "HueSaturationValue",
                "p": 0.3,
                "hue_shift_limit": [-10, 10],
                "sat_shift_limit": [-20, 20],
                "val_shift_limit": [-10, 10],
            },
            {
                "__class_fullname__": "Affine",
                "p": 0.7,
                "scale": [0.95, 1.05],
                "rotate": [-5, 5],
                "translate_percent": [-0.03, 0.03],
            },
        ],
    },
}


class AugmentParams(Section):
    """Label-preserving augmentation of the frames that passed gate (stage augment)."""

    copies: int = Field(
        1, ge=0, le=100, description="augmented copies of every passing frame, besides the frame itself"
    )
    per_frame: bool = Field(
        False, description="false: one draw per clip and copy (temporally consistent); true: one per frame"
    )
    policy: dict[str, Any] = Field(
        default_factory=lambda: dict(DEFAULT_POLICY),
        description="the albumentations pipeline in its own serialisation (A.to_dict / A.from_dict); "
        "keypoints and boxes are added by the stage",
    )
    label_flip_map: dict[str, str] = Field(
        default_factory=dict, description="label -> its mirror image's label, applied when a draw flips horizontally"
    )
    symmetric_labels: list[str] = Field(
        default_factory=list,
        description="labels a horizontal flip does not change; a flip of any other unmapped label is skipped",
    )
    jpeg_quality: int = Field(92, ge=50, le=100)


class ManifestParams(Section):
    """The published dataset and its splits (stage manifest)."""

    splits: Shares = Field(
        default_factory=lambda: {"train": 0.7, "val": 0.15, "test": 0.15},
        description="split name -> share of images; subjects and identities never cross splits",
    )
    share_tolerance: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="largest gap between a split's achieved and target share of images that the dataset card "
        "and metrics still call met; a larger gap is reported as groups of people too few or too coarse",
    )
    quota_tolerance: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="with cast.balance_by: published, passing images are left out until no quota cell's published "
        "share is more than this above its target",
    )
    clip_ids: Literal["pseudonym", "original"] = Field(
        "pseudonym",
        description="pseudonym: clips are published under a keyed hash of their id (a file name can be a "
        "person's name); original: under their own id, as the footage names them",
    )
    shards: bool = Field(
        True,
        description="also publish the dataset as WebDataset tar shards (data/dataset/shards/<split>-NNNNNN.tar: each "
        "image and its manifest row as JSON), which DVC, PyTorch and Hugging Face datasets carry as a few files",
    )
    shard_images: int = Field(1000, ge=1, le=1_000_000, description="images per shard")


class EvaluateParams(Section):
    """Does the recast dataset still teach the labelled task? A classifier trained on original and on recast
    frames, scored on held-out subjects (stage evaluate)."""

    input: Literal["face", "frame"] = Field(
        "face",
        description="face: the frame's largest landmarked face, aligned by the original's landmarks (the same "
        "crop of the original and of its recast); frame: the whole frame (labels not about the face)",
    )
    frame_step: int = Field(
        1, ge=1, le=10000, description="every Nth frame of a clip is evaluated (frame_idx % N == 0)"
    )
    ignore_labels: list[str] = Field(
        default_factory=lambda: ["transition"], description="labels that are not a class (in-between frames)"
    )
    min_label_frames: int = Field(
        20, ge=1, le=1_000_000, description="a label with fewer evaluated original frames is left out, with the reason"
    )
    folds: int = Field(5, ge=2, le=1000, description="subject-grouped folds: every fold's subjects are held out once")
    crop_px: int = Field(48, ge=16, le=256, description="side of the aligned face crop (multiple of hog_cell_px)")
    frame_px: int = Field(96, ge=16, le=1024, description="width of the whole-frame input (multiple of hog_cell_px)")
    hog_cell_px: int = Field(8, ge=4, le=64, description="HOG cell; blocks are 2x2 cells, 9 orientations")
    normalise: Literal["subject", "none"] = Field(
        "subject",
        description="subject: each person's features minus their own mean (labels unused), so the classifier "
        "learns the expression, not who shows it; a recast person is normalised by their own recast frames",
    )
    hidden: int = Field(0, ge=0, le=4096, description="0: a linear softmax classifier; N: one hidden layer of N units")
    epochs: int = Field(300, ge=1, le=100_000, description="full-batch Adam steps")
    learning_rate: float = Field(0.01, gt=0, le=10)
    weight_decay: float = Field(0.001, ge=0, le=10)
    bootstrap: int = Field(1000, ge=100, le=100_000, description="subject resamples for the 95 % intervals")
    workers: int = Field(2, ge=1, le=64, description="processes describing clips' images in parallel (local executor)")
    required: bool = Field(
        False,
        description="false: input that cannot be evaluated is recorded as not_evaluated with the reason; "
        "true: it stops the stage",
    )

    @model_validator(mode="after")
    def _cells(self) -> EvaluateParams:
        for key in ("crop_px", "frame_px"):
            if getattr(self, key) % self.hog_cell_px or getattr(self, key) < 2 * self.hog_cell_px:
                raise ValueError(
                    f"{key} ({getattr(self, key)}) must be a multiple of hog_cell_px ({self.hog_cell_px}) and at "
                    "least two cells"
                )
        return self


class ExecutorParams(Section):
    """Where the per-clip work of faces, swap, gate and evaluate runs. Not a dependency of any stage: the outputs
    are byte-identical whichever executor made them."""

    kind: Literal["local", "ray"] = Field(
        "local", description="local: a pool of this machine's processes (each stage's workers); ray: a Ray cluster"
    )
    address: str | None = Field(
        None, description="kind ray: the cluster's head, host:port as `ray start --head` printed it, or auto"
    )
    cpus_per_task: float = Field(1.0, gt=0, le=64, description="kind ray: CPUs one clip's task reserves")

    @model_validator(mode="after")
    def _address(self) -> ExecutorParams:
        if self.kind == "ray" and not (self.address or "").strip():
            raise ValueError("kind ray needs address: the head node's host:port (or auto)")
        if self.kind == "local" and self.address is not None:
            raise ValueError("address is only read with kind ray")
        return self


class ReportParams(Section):
    """The human-readable report (stage report)."""

    frames_per_clip: int = Field(4, ge=1, le=100, description="frames per clip on the contact sheets")


SECTIONS: dict[str, type[Section]] = {
    "sample": SampleParams,
    "input": InputParams,
    "ingest": IngestParams,
    "faces": FacesParams,
    "attributes": AttributesParams,
    "cast": CastParams,
    "swap": SwapParams,
    "gate": GateParams,
    "augment": AugmentParams,
    "manifest": ManifestParams,
    "evaluate": EvaluateParams,
    "report": ReportParams,
    "executor": ExecutorParams,
}
SHARED = ("seed",)
S = TypeVar("S", bound=Section)


class Params:
    """What one stage sees: ``seed`` and the sections it asked for, each as a typed attribute."""

    def __init__(self, seed: int, sections: dict[str, Section]):
        self.seed = seed
        self._sections = dict(sections)

    def _section(self, name: str, kind: type[S]) -> S:
        section = self._sections.get(name)
        if section is None:
            raise AttributeError(f"section '{name}' was not loaded by this stage")
        if not isinstance(section, kind):
            raise TypeError(f"section '{name}' holds {type(section).__name__}, expected {kind.__name__}")
        return section

    @property
    def sample(self) -> SampleParams:
        return self._section("sample", SampleParams)

    @property
    def input(self) -> InputParams:
        return self._section("input", InputParams)

    @property
    def ingest(self) -> IngestParams:
        return self._section("ingest", IngestParams)

    @property
    def faces(self) -> FacesParams:
        return self._section("faces", FacesParams)

    @property
    def attributes(self) -> AttributesParams:
        return self._section("attributes", AttributesParams)

    @property
    def cast(self) -> CastParams:
        return self._section("cast", CastParams)

    @property
    def swap(self) -> SwapParams:
        return self._section("swap", SwapParams)

    @property
    def gate(self) -> GateParams:
        return self._section("gate", GateParams)

    @property
    def augment(self) -> AugmentParams:
        return self._section("augment", AugmentParams)

    @property
    def manifest(self) -> ManifestParams:
        return self._section("manifest", ManifestParams)

    @property
    def evaluate(self) -> EvaluateParams:
        return self._section("evaluate", EvaluateParams)

    @property
    def report(self) -> ReportParams:
        return self._section("report", ReportParams)

    @property
    def executor(self) -> ExecutorParams:
        return self._section("executor", ExecutorParams)


def _describe(err: Any, section: str) -> str:
    key = ".".join([section, *[str(p) for p in err["loc"]]]) if err["loc"] else section
    got = err.get("input")
    if err["type"] == "extra_forbidden":
        allowed = ", ".join(SECTIONS[section].model_fields)
        return f"{key}: unknown key (allowed in '{section}': {allowed})"
    if err["type"] == "missing":
        return f"{key}: required key is missing"
    return f"{key}: {err['msg']} (got {got!r})"


class _DuplicateKey(Exception):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error: PyYAML would keep the last one
    silently (a second ``gate:`` section replacing the first), and DVC refuses such a file."""

    def construct_document(self, node: yaml.Node) -> Any:
        self._paths: dict[int, str] = {}  # id of every mapping node -> its key path, for the message
        stack: list[tuple[yaml.Node, str]] = [(node, "")]
        while stack:
            at, path = stack.pop()
            self._paths[id(at)] = path
            if isinstance(at, yaml.MappingNode):
                stack += [(v, f"{path}.{k.value}" if path else str(k.value)) for k, v in at.value]
            elif isinstance(at, yaml.SequenceNode):
                stack += [(v, f"{path}[{n}]") for n, v in enumerate(at.value)]
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<': merged keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):  # the base loader refuses it
                continue
            line = key_node.start_mark.line + 1
            if key in seen:
                path = self._paths.get(id(node), "")
                raise _DuplicateKey(f"{path}.{key}" if path else str(key), seen[key], line)
            seen[key] = line
        return super().construct_mapping(node, deep)


def read_yaml(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: file not found")
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {}
    except _DuplicateKey as exc:
        key, first, second = exc.args
        lines = f"line {first}, twice" if first == second else f"lines {first} and {second}"
        raise ParamsError(f"{path}: key '{key}' is given twice ({lines}); YAML would keep only the last") from None
    except yaml.MarkedYAMLError as exc:  # one line: what, where
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        what = ", ".join(filter(None, [exc.context, exc.problem]))
        raise ParamsError(f"{path}: not valid YAML: {what}{where}") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of sections at the top level")
    unknown = sorted(set(data) - set(SECTIONS) - set(SHARED))
    if unknown:
        raise ParamsError(
            f"{path}: unknown top-level key(s) {', '.join(unknown)} (known: {', '.join([*SHARED, *SECTIONS])})"
        )
    return data


def validate_section(name: str, raw: Any, path: str | Path = "params.yaml") -> Section:
    if name not in SECTIONS:
        raise ParamsError(f"no parameter section named '{name}'")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: {name}: expected a mapping, got {type(raw).__name__}")
    try:
        return SECTIONS[name].model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(e, name) for e in exc.errors()]
        raise ParamsError(f"{path}: invalid parameters:\n  " + "\n  ".join(lines)) from None


def validate_seed(raw: Any, path: str | Path = "params.yaml") -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ParamsError(f"{path}: seed: expected a non-negative integer (got {raw!r})")
    return raw


def load(*sections: str, path: str | Path = "params.yaml") -> Params:
    """Validate and return the named sections (a stage's own, plus shared ones such as ``input``) and ``seed``."""
    data = read_yaml(path)
    if "seed" not in data:
        raise ParamsError(f"{path}: seed: required key is missing")
    return Params(
        validate_seed(data["seed"], path), {name: validate_section(name, data.get(name), path) for name in sections}
    )


def load_all(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Validate every section present (``facecast params``)."""
    data = read_yaml(path)
    out: dict[str, Any] = {"seed": validate_seed(data.get("seed"), path)}
    for name in SECTIONS:
        out[name] = validate_section(name, data.get(name), path)
    return out
