"""Pinned bytes of a few small images of every registered family, so that no refactor changes a byte
silently. Each family renders at the config pinned with it (its ``quick_config`` when pinned): two
categories searched from ``SEED``, the first and the last of their instances (the 1,000th for
families without a limit). A digest is "category/instance HxW[xC] dtype sha256-of-the-array-bytes"
for samples that are one array (images), else "category/instance <kind> sha256-of-the-files" over
the bytes the family's sample kind writes.

A family missing here fails with the entry to paste; a change of bytes on purpose (a fixed bug,
a new algorithm) updates the family's entry in the same commit, saying why.
"""
from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from fdsl.registry import formula_class, get_formula, list_formulas

SEED = 3
CATEGORIES = (0, 1)

PINNED: dict[str, dict] = {
    "bezier": {
        "config": {"size": 32},
        "images": [
            "0/0 32x32 uint8 45842c9bf10e57048dfe87da529804d623679fb155f678f9ebf03284f972bf23",
            "0/999 32x32 uint8 2f4d25097ebb2919d6a7333271a4bd45f36015ee7612a0f689aef596bc70cb60",
            "1/0 32x32 uint8 e3422ce71cd1a574c268590643214736ff4ecdadc8fd8fa539e2b41a2dad978f",
            "1/999 32x32 uint8 3b02f8e610c039432160fa8caf9b962097b0364001178491e83f3ce88fb4fc0a",
        ],
    },
    "exfractaldb": {
        "config": {"points": 2000, "size": 64},
        "images": [
            "0/0 64x64 uint8 ce1e312a138417cf7001ccd6f55eab2f459419a5c549f5b103c658512a8baaf4",
            "0/999 64x64 uint8 1d60377441912f228bd65a8143ad449f40cce7683f0f0a3f4199b58bf7e8f29a",
            "1/0 64x64 uint8 17cb9b2fb79ad232b036ce6e14870f08c5771fb02970d1946222c62b6d092606",
            "1/999 64x64 uint8 b0aeb6629bd3cdabb3b4d7dcfb38c645d1fdf65a34d83ab580da715a931fbdbc",
        ],
    },
    "fractaldb": {
        "config": {"points": 8000, "search_points": 10000, "search_size": 128, "size": 64},
        "images": [
            "0/0 64x64 uint8 d4836c8f3a6606a71e87e4f6fe57febbba12c3499d1ac8be533d135d45ed1f6e",
            "0/999 64x64 uint8 decd8a0bdb95afc2688cad701a87d26ad6644735c4bde7102a98f39493bc21b6",
            "1/0 64x64 uint8 1a00702efd73e87b501e09750b9610f5f8a73e75d72d74ec7a03b32cfba0637e",
            "1/999 64x64 uint8 50f6596264de4874ba2f5977dc7dfccc4224ab58ad06e88d7866755a1b22cd7b",
        ],
    },
    "fractaldb-scenes": {
        "config": {"classes": 4, "max_objects": 4, "search_points": 10000, "search_size": 128, "size": 64},
        "images": [
            "0/0 64x64 uint8 e74773ac362c1ce91c7878c48779a9699542075533a875295a7105f7604f5da8"
            " + 64x64 uint8 66907a17b7b6f903409f00056fe1d4b158dcc008083121554ba47b8b5ff4a592"
            " + 2 int64 814dd7b9784d57c15b9c2972e9b4fd6cf7e164f8162a934bdb2452a413dab1f7"
            " + 2x4 float32 73fc75758e304ffd6fd4a735785bd7aee35d7fc57e082bb8049c875c930df9f3",
            "0/999 64x64 uint8 76fe4f9699bf724be451ba1c83c46785c18d6f469421424dc5da94ccccf3e47d"
            " + 64x64 uint8 c7cb63f2e76e89510b353a47f304efd227378b922159ce365b1fe1094ce9da41"
            " + 4 int64 61cf0779682923ad84576de9bd059eff1ff0ae3a5f60b3d8d65e9bb777c5c938"
            " + 4x4 float32 ce2730815a5926b10261b2b29b7989868d4abfa19edb6a9340816844a9f80839",
            "1/0 64x64 uint8 61a6a8791fe22190a43b7b46256189c7c58df9a200e4fc92bb6a0a5e96c12a01"
            " + 64x64 uint8 a293611ebacd18b01d1fdd72feceeeec68de6777f0acacb40f222dc1ccd60704"
            " + 4 int64 ffa2a1fed3dfc7dc4f5a1c2c17e5909910a238bda6bc178dcfebc859b35ad264"
            " + 4x4 float32 9000e7b2f926b376b092221ad892392f83038d1d1fc0e89c15d1a5fe4199da77",
            "1/999 64x64 uint8 d808f83172af49eefdb5fb4a170f8a2f67062e2fbfa5fecabd176e7cffabd5d5"
            " + 64x64 uint8 84da5d79690ae3037ac41178bd06ecacd002a9626fa8d3f187142f6c3ead32e7"
            " + 3 int64 0f004f117335020e1d19c25b8767278bf1edb2fa6ff3fac943d843b6003d0eb5"
            " + 3x4 float32 4e34766f9b19c082bbb188b602031d821592463995f28c16d8687d3f88944d62",
        ],
    },
    "mixture": {
        "config": {"families": "fractaldb:3,exfractaldb:3", "member_config": "quick", "size": 32},
        "images": [
            "0/0 32x32 uint8 75137fe43464a5ddebf4e21d9519e7744d62f341535351686d6a4eb54d1599b0",
            "0/999 32x32 uint8 f66634bb46eca44e94d927f0b9d768a26c73272203b7d8b67ebdb0b034a9891f",
            "1/0 32x32 uint8 2943f963f47e16c8b15a4e4e04414de1ede263bea004208bc1c29851e61453ec",
            "1/999 32x32 uint8 c55fcc90dd5695c42efe2f234597f1082dec6468da28561fb648115fc7f89ed6",
        ],
    },
    "mvfractaldb": {
        "config": {"points": 2000, "size": 64},
        "images": [
            "0/0 64x64 uint8 b4dd100f56508bcb7f59f6b21171a5cf3977c142c0914241a06f9da8fc719904",
            "0/1739 64x64 uint8 9932a9c0cf9ef4973dc35b7f4090ccd04b13ec2a4974bb2e7beb66339bec15a9",
            "1/0 64x64 uint8 b0d846f4a19b4e34d43000df9fc8b8a58b56d432ab7206063e0d44402fda2eac",
            "1/1739 64x64 uint8 619caf78de330c4e86025f581fab39647711996167b61bf9ea2d529b4ced7abb",
        ],
    },
    "ofdb": {
        "config": {"points": 8000, "search_points": 10000, "search_size": 128, "size": 64},
        "images": [
            "0/0 64x64 uint8 fc15a9da126a269be238acdd9fa91330205aa6839d78229d201de8b8474233ce",
            "1/0 64x64 uint8 09995402a27725396533fead6e3c4dbf4768c17531c2eea847599847ba60f9ab",
        ],
    },
    "ofdb3d": {
        "config": {"points": 2000, "size": 64},
        "images": [
            "0/0 64x64 uint8 b4dd100f56508bcb7f59f6b21171a5cf3977c142c0914241a06f9da8fc719904",
            "0/11 64x64 uint8 8bb4fef5feefe902babe063a9482535ea89ff56285e7f0c443849245b3c19967",
            "1/0 64x64 uint8 b0d846f4a19b4e34d43000df9fc8b8a58b56d432ab7206063e0d44402fda2eac",
            "1/11 64x64 uint8 2c9ca2aff2fc637774e8287a23bf6015c9badb9218940d6edca0bff263775344",
        ],
    },
    "pcfractaldb": {
        "config": {"points": 1000, "classes": 8},
        "images": [
            "0/0 998x3 float32 ec685eff5d3c18e200f4a0cceecd22e842cb9206e2860a846b00943fea472ed9",
            "0/7 998x3 float32 689661d4db51cfb8143aac2e6c15b8b7716e179812a04dce49713d4b70f52e3a",
            "1/0 998x3 float32 715f60757c8eec2ff754a9a1f81536f4c8cbe1209c565176e695b748cbd62859",
            "1/7 998x3 float32 2fea3f0ddea4479393ff89bfa9cd891ad94f9da30c408b4c4b7d944e81d75054",
        ],
    },
    "pcfractaldb-scenes": {
        "config": {"points": 300, "classes": 4, "object_instances": 4, "base_objects": 2},
        "images": [
            "0/0 2980x3 float32 2e1d0a13db730f5b67cc9401920871f5fb2440d62766b1068adaad95dc84f6b1 + 2980 int32 a893403064c8fe5dbf3e704be1e9d3db6ed66365cff3831bfda9a142f10bb5f7 + 10x7 float32 0149c537655add5b54d310691f7b00ad0d336e4af46a4e3e7264cbd7d701f558 + 10 int32 adffa2a6add555082d03dc3fd7e2685cbb6b06577c50ba288a7961a4e104586d",
            "0/999 1788x3 float32 a73bbb95b2b59709be26ec031c39e32784b0d49ea3419f3f7511dd9a268cfd76 + 1788 int32 7b58ff898106872cd4fd0c3a21040effa357d6cd83ac01b316183d7f76b46081 + 6x7 float32 8913a947202e7621cbbc154e39e770ad445ca2fecc8861b6718ff53f41ddfdd5 + 6 int32 dac2abfa4a7055b921ac1d922307ec692c4e8e5cbcac74ada4b0bf660c04a87f",
            "1/0 1788x3 float32 8a04ef9a477057709b605d71151c87392be786e037ea63cbc1f4b7b8ae697f52 + 1788 int32 7b58ff898106872cd4fd0c3a21040effa357d6cd83ac01b316183d7f76b46081 + 6x7 float32 e9c8ea55cf1e8d7d4fa5eebe218172c64293ceaba02fcc965bffa3e3bb460cec + 6 int32 9ac19c91a4144a6c70cc0e120a693e8f6cc02581b4bdf33f51b98fcfa78bf49a",
            "1/999 1788x3 float32 de68c7ec623fabc1bff290c4c08feda6ec89a6235bce49b7b48988e2dd63be8c + 1788 int32 7b58ff898106872cd4fd0c3a21040effa357d6cd83ac01b316183d7f76b46081 + 6x7 float32 b7e606fd655a98ca853613cd214df31126699591fce2f99ef765a83ae9ebf554 + 6 int32 f20eded4b2362b85d2fc74f76bc8a08262ac426fe3b262705456a0c0495269f5",
        ],
    },
    "perlin": {
        "config": {"size": 32},
        "images": [
            "0/0 32x32 uint8 dfee0a3763ebfbb081092075140a001e721a237b21d314c809939dad2772e6b3",
            "0/999 32x32 uint8 08a10ff586538960eb634483f878c428743d2712ff01fdd4c60860b59fcf6839",
            "1/0 32x32 uint8 5ec68030d0a14560bd6654492a9f24be74811d34a12cd73d82ab7ed717364dff",
            "1/999 32x32 uint8 28b919d6df91d2886403548832870777d4d951faebfd6ff7c9af73d9be01ee6d",
        ],
    },
    "rcdb": {
        "config": {"max_contours": 40, "size": 64},
        "images": [
            "0/0 64x64 uint8 3c3f7f2678773ce51104386239d28756a5c1fea8c2d34dd9d82e097ac56f5aeb",
            "0/999 64x64 uint8 e1bd1db1687a6ea3f3eb92d901f6192f35f6cd7ced0621f67a4e5817ab37a6ac",
            "1/0 64x64 uint8 60a3ad45751f0617cbb6be6c7a5cddba35d78922c15557cfb2296964fcbee0a0",
            "1/999 64x64 uint8 4b25ca28f4a29904a2daae7a8ca64b92b8459300d03617bc4b676b6057b7651d",
        ],
    },
    "segrcdb": {
        "config": {"instances_per_image": 8, "max_contours": 10, "size": 64},
        "images": [
            "0/0 64x64 uint8 e0f652d5ed4d52fb62103b6177a2d2af8ca094f4831cf967f4cf7085e7ce8c26"
            " + 64x64 uint8 c6bd23c9c22cc52332b621b153a2e19b7832db99e640e45c94edbdad3b6d0a18",
            "0/999 64x64 uint8 032b8edbc5641e6e7cf12d411537804878f4d83bec72b3c05b0ade02a3329c06"
            " + 64x64 uint8 8925257a8ca54840a50c13b559aa51f992f2bdc62989bc943df63f858ec5b203",
            "1/0 64x64 uint8 2c0e75f15d758155917b63c0d600040b552f22f00938cc0028f7ec858157e0cd"
            " + 64x64 uint8 22648bf46f1f755b0051fd60548e0165c386879442ddd211c899c422d3409c7d",
            "1/999 64x64 uint8 520388aeb8c550cf9944306a4c8b473ce172e21fe4aef62bbfdaa6c48de194d5"
            " + 64x64 uint8 8586b3c9ce8eb5afe2b931ccd372084eb6e29f6ab5dd5ebd7656d3c432690ad4",
        ],
    },
    "visualatom": {
        "config": {"max_orbits": 40, "max_vertices": 200, "min_vertices": 100, "size": 64},
        "images": [
            "0/0 64x64 uint8 52dedcb844b039fabd5cfedd64a2883b90118cc5eccf3f0442342bb44297b6f4",
            "0/999 64x64 uint8 5aef74c7f4b73ad562ae87b040ffc038303b1676b42b6d8441fa898a98164df7",
            "1/0 64x64 uint8 751e9ca0c12a1ca9263eb8af384d0f8f6cfb7b22f7637abcf72a015c61efe927",
            "1/999 64x64 uint8 8688cf942570f547c2022fb5f7c334e7d724037cb0725349533aa8d1fca896a4",
        ],
    },
    "vpn": {
        "config": {"size": 16, "frames": 4},
        "images": [
            "0/0 4x16x16 uint8 7c7550ed95d2782d730c3b220a397f17acd50f86d44b6fceeabed53e7e6b64ac",
            "0/999 4x16x16 uint8 cdc99f466e1f3e7f3194f8b5e15f7c853c3963469cdd54bc82542babc5250579",
            "1/0 4x16x16 uint8 96a51b0f6692c5eff77e013d15406d9027e648b0d9f2cbbaf169cf022ecd33e9",
            "1/999 4x16x16 uint8 982d385f847ced19d59f632efc5dc6501cf6eab18f8544b4a409c3e302c2e1fd",
        ],
    },
}


def digests(name: str, config: dict) -> list[str]:
    formula = get_formula(name, **config)
    last = (formula.instances_per_category or 1000) - 1
    result = []
    for category in CATEGORIES:
        params = formula.search_category(SEED, category)
        for instance in sorted({0, last}):
            sample = formula.sample(params, SEED, category, instance)
            result.append(f"{category}/{instance} " + " + ".join(map(array_digest, sample_arrays(sample))))
    return result


def sample_arrays(sample) -> list[np.ndarray]:
    """The arrays of a sample: itself (an image), else its dataclass's array fields in order (unset
    optional ones left out)."""
    if isinstance(sample, np.ndarray):
        return [sample]
    return [getattr(sample, f.name) for f in dataclasses.fields(sample) if getattr(sample, f.name) is not None]


def array_digest(array: np.ndarray) -> str:
    shape = "x".join(str(n) for n in array.shape)
    return f"{shape} {array.dtype} {hashlib.sha256(array.tobytes()).hexdigest()}"


@pytest.mark.parametrize("name", list_formulas())
def test_images_match_their_pinned_digests(name):
    if name not in PINNED:
        config = dict(formula_class(name).quick_config)
        entry = {"config": config, "images": digests(name, config)}
        pytest.fail(f"family {name!r} has no pinned images: look at them (`fdsl show {name}`), then add to PINNED "
                    f"in {__file__}:\n    {name!r}: {entry!r},")
    assert digests(name, PINNED[name]["config"]) == PINNED[name]["images"]


def test_every_pinned_family_is_registered():
    assert sorted(set(PINNED) - set(list_formulas())) == []

