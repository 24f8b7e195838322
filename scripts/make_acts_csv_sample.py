"""Write ACTS Examples CSV files with pyacts (Fatras on the GenericDetector).

Used to make tests/data/acts48 (the checked-in sample of the CSV flavour ACTS 48.1
writes) and by tests/python/test_io_acts.py when pyacts is installed.

    PYTHONPATH=python python scripts/make_acts_csv_sample.py OUTDIR [--vertices N]
        [--particles-per-vertex K] [--events E] [--seed S]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from helixkit import units as u
from helixkit.fitting.acts_reference import (
    B_FIELD_Z,
    import_acts,
    write_digi_json,
)


def write_acts_csv(outdir: Path, *, vertices: int = 2, particles_per_vertex: int = 5,
                   events: int = 1, seed: int = 7) -> Path:
    """Simulate ``events`` particle-gun events and write them with ACTS's CSV writers."""
    acts, ae = import_acts()
    um = acts.UnitConstants
    level = acts.logging.WARNING
    outdir.mkdir(parents=True, exist_ok=True)
    detector = ae.GenericDetector(ae.GenericDetector.Config())
    tg = detector.trackingGeometry()
    field = acts.ConstantBField(acts.Vector3(0.0, 0.0, B_FIELD_Z / u.T * um.T))
    rnd = ae.RandomNumbers(seed=int(seed))
    with tempfile.TemporaryDirectory() as tmp:
        digi = Path(tmp) / "digi.json"
        write_digi_json(digi)
        seq = ae.Sequencer(events=int(events), numThreads=1, logLevel=level, outputDir=tmp)
        seq.addReader(ae.EventGenerator(
            level=level, randomNumbers=rnd, outputEvent="gun_event",
            generators=[ae.EventGenerator.Generator(
                multiplicity=ae.FixedMultiplicityGenerator(n=int(vertices)),
                vertex=ae.GaussianVertexGenerator(
                    mean=acts.Vector4(0, 0, 0, 0),
                    stddev=acts.Vector4(0.0125 * um.mm, 0.0125 * um.mm, 55.5 * um.mm, 0.0)),
                particles=ae.ParametricParticleGenerator(
                    p=(1.0 * um.GeV, 5.0 * um.GeV), pTransverse=True, eta=(-2.0, 2.0),
                    etaUniform=True, numParticles=int(particles_per_vertex),
                    pdg=acts.PdgParticle.ePionPlus, randomizeCharge=True))]))
        seq.addAlgorithm(acts.examples.hepmc3.HepMC3InputConverter(
            level=level, inputEvent="gun_event", outputParticles="particles_generated",
            outputVertices="vertices_generated", mergePrimaries=False))
        seq.addAlgorithm(ae.FatrasSimulation(
            level=level, inputParticles="particles_generated",
            outputParticles="particles_simulated", outputSimHits="simhits", randomNumbers=rnd,
            trackingGeometry=tg, magneticField=field, generateHitsOnSensitive=True,
            emScattering=True, emEnergyLossIonisation=True, emEnergyLossRadiation=True,
            emPhotonConversion=True))
        seq.addAlgorithm(ae.DigitizationAlgorithm(ae.DigitizationAlgorithm.Config(
            digitizationConfigs=acts.examples.json.readDigiConfigFromJson(str(digi)),
            surfaceByIdentifier=tg.geoIdSurfaceMap(), randomNumbers=rnd,
            inputSimHits="simhits", outputMeasurements="measurements",
            outputMeasurementSubset="measurement_subset",
            outputMeasurementParticlesMap="measurement_particles_map",
            outputMeasurementSimHitsMap="measurement_simhits_map",
            outputParticleMeasurementsMap="particle_measurements_map",
            outputSimHitMeasurementsMap="simhit_measurements_map"), level))
        seq.addWriter(ae.CsvParticleWriter(
            level=level, inputParticles="particles_simulated", outputDir=str(outdir),
            outputStem="particles_simulated"))
        seq.addWriter(ae.CsvSimHitWriter(
            level=level, inputSimHits="simhits", outputDir=str(outdir), outputStem="hits"))
        seq.addWriter(ae.CsvMeasurementWriter(
            level=level, inputMeasurements="measurements", inputClusters="",
            inputMeasurementSimHitsMap="measurement_simhits_map", outputDir=str(outdir)))
        seq.run()
    return outdir


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("--vertices", type=int, default=2)
    p.add_argument("--particles-per-vertex", type=int, default=5)
    p.add_argument("--events", type=int, default=1)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    write_acts_csv(a.outdir, vertices=a.vertices, particles_per_vertex=a.particles_per_vertex,
                   events=a.events, seed=a.seed)


if __name__ == "__main__":
    main()
