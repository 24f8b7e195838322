#include "helixkit/EventData/Surface.hpp"
#include "helixkit/TrackFinding/CombinatorialKalmanFilter.hpp"
#include "pybind.hpp"

#include <cstdint>

namespace {

using helixkit::python::CArray;
using helixkit::python::flat;
using helixkit::python::requireRows;
using helixkit::python::requireVector;
using helixkit::python::toNumpy;
using helixkit::python::toNumpy2D;

}  // namespace

void bindFinding(py::module_& m) {
  using helixkit::CombinatorialKalmanFilter;
  using helixkit::GreedyAmbiguityResolution;
  using helixkit::SurfaceSet;
  using helixkit::TrackSelectorCuts;
  using Cfg = CombinatorialKalmanFilter::Config;

  py::class_<TrackSelectorCuts>(m, "TrackSelectorCuts")
      .def(py::init<>())
      .def_readwrite("pt_min", &TrackSelectorCuts::ptMin)
      .def_readwrite("pt_max", &TrackSelectorCuts::ptMax)
      .def_readwrite("abs_eta_min", &TrackSelectorCuts::absEtaMin)
      .def_readwrite("abs_eta_max", &TrackSelectorCuts::absEtaMax)
      .def_readwrite("loc0_min", &TrackSelectorCuts::loc0Min)
      .def_readwrite("loc0_max", &TrackSelectorCuts::loc0Max)
      .def_readwrite("loc1_min", &TrackSelectorCuts::loc1Min)
      .def_readwrite("loc1_max", &TrackSelectorCuts::loc1Max)
      .def_readwrite("n_measurements_min", &TrackSelectorCuts::nMeasurementsMin)
      .def_readwrite("max_holes", &TrackSelectorCuts::maxHoles)
      .def_readwrite("max_outliers", &TrackSelectorCuts::maxOutliers)
      .def_readwrite("max_chi2", &TrackSelectorCuts::maxChi2)
      .def("validate", &TrackSelectorCuts::validate);

  py::class_<Cfg>(m, "CkfNativeConfig")
      .def(py::init<>())
      .def_readwrite("b_field_z", &Cfg::bFieldZ)
      .def_readwrite("chi2_cut_off_measurement", &Cfg::chi2CutOffMeasurement)
      .def_readwrite("chi2_cut_off_outlier", &Cfg::chi2CutOffOutlier)
      .def_readwrite("num_measurements_cut_off", &Cfg::numMeasurementsCutOff)
      .def_readwrite("max_branches_per_seed", &Cfg::maxBranchesPerSeed)
      .def_readwrite("max_holes", &Cfg::maxHoles)
      .def_readwrite("max_outliers", &Cfg::maxOutliers)
      .def_readwrite("max_consecutive_holes", &Cfg::maxConsecutiveHoles)
      .def_readwrite("min_pt", &Cfg::minPt)
      .def_readwrite("max_steps", &Cfg::maxSteps)
      .def_readwrite("loop_fraction", &Cfg::loopFraction)
      .def_readwrite("two_way", &Cfg::twoWay)
      .def_readwrite("seed_deduplication", &Cfg::seedDeduplication)
      .def_readwrite("stay_on_seed", &Cfg::stayOnSeed)
      .def_readwrite("search_window", &Cfg::searchWindow)
      .def_readwrite("multiple_scattering", &Cfg::multipleScattering)
      .def_readwrite("mass", &Cfg::mass)
      .def_readwrite("beam_x", &Cfg::beamX)
      .def_readwrite("beam_y", &Cfg::beamY)
      .def_readwrite("selector", &Cfg::selector)
      .def_readwrite("n_threads", &Cfg::nThreads)
      .def("validate", &Cfg::validate);

  m.def(
      "ckf_find_tracks",
      [](const SurfaceSet& surfaces, const Cfg& cfg,
         const CArray<std::int32_t>& surfaceId, const CArray<double>& local,
         const CArray<double>& cov, const CArray<std::int8_t>& mask,
         const CArray<std::int64_t>& seeds, const CArray<double>& seedParams,
         const CArray<double>& seedCov, const CArray<std::int32_t>& layer,
         const CArray<double>& layerLocal, const CArray<double>& layerOffset,
         const CArray<std::int32_t>& passive, const CArray<double>& layerVar) {
        CombinatorialKalmanFilter::Measurements meas;
        meas.surfaceId = requireVector(surfaceId, "surface_id");
        meas.local = flat(local);
        meas.cov = flat(cov);
        meas.mask = requireVector(mask, "mask");
        meas.layer = flat(layer);
        meas.layerLocal = flat(layerLocal);
        meas.layerOffset = flat(layerOffset);
        meas.passive = flat(passive);
        meas.layerVar = flat(layerVar);
        CombinatorialKalmanFilter::Seeds s;
        s.measurements = flat(seeds);
        s.params = flat(seedParams);
        s.cov = flat(seedCov);
        CombinatorialKalmanFilter::Output o;
        {
          py::gil_scoped_release release;
          o = CombinatorialKalmanFilter(cfg, surfaces).findTracks(meas, s);
        }
        const auto nTracks = static_cast<py::ssize_t>(o.seed.size());
        py::dict d;
        d["offsets"] = toNumpy(std::move(o.offsets));
        d["measurements"] = toNumpy(std::move(o.measurements));
        d["outlier"] = toNumpy(std::move(o.outlier));
        d["seed"] = toNumpy(std::move(o.seed));
        d["params"] = toNumpy2D(std::move(o.params), 5);
        d["cov"] = toNumpy2D(std::move(o.cov), 25).reshape({nTracks, py::ssize_t{5}, py::ssize_t{5}});
        d["chi2"] = toNumpy(std::move(o.chi2));
        d["ndf"] = toNumpy(std::move(o.ndf));
        d["n_measurements"] = toNumpy(std::move(o.nMeasurements));
        d["n_outliers"] = toNumpy(std::move(o.nOutliers));
        d["n_holes"] = toNumpy(std::move(o.nHoles));
        d["seed_status"] = toNumpy(std::move(o.seedStatus));
        d["n_branches"] = o.nBranches;
        d["n_propagations"] = o.nPropagations;
        d["n_chi2_tests"] = o.nChi2Tests;
        d["max_live_branches"] = o.maxLiveBranches;
        return d;
      },
      py::arg("surfaces"), py::arg("config"), py::arg("surface_id").noconvert(),
      py::arg("local").noconvert(), py::arg("cov").noconvert(),
      py::arg("mask").noconvert(), py::arg("seeds").noconvert(),
      py::arg("seed_params").noconvert(), py::arg("seed_cov").noconvert(),
      py::arg("layer").noconvert(), py::arg("layer_local").noconvert(),
      py::arg("layer_offset").noconvert(), py::arg("passive").noconvert(),
      py::arg("layer_var").noconvert());

  m.def(
      "greedy_ambiguity_resolution",
      [](const CArray<std::int64_t>& offsets, const CArray<std::int64_t>& measurements,
         const CArray<double>& chi2PerNdf, std::uint32_t maximumSharedHits,
         std::uint32_t maximumIterations, std::uint32_t nMeasurementsMin) {
        GreedyAmbiguityResolution::Config cfg;
        cfg.maximumSharedHits = maximumSharedHits;
        cfg.maximumIterations = maximumIterations;
        cfg.nMeasurementsMin = nMeasurementsMin;
        const auto off = requireVector(offsets, "offsets");
        const auto meas = requireVector(measurements, "measurements");
        const auto chi2 = requireVector(chi2PerNdf, "chi2_per_ndf");
        std::vector<std::int64_t> kept;
        {
          py::gil_scoped_release release;
          kept = GreedyAmbiguityResolution::resolve(cfg, off, meas, chi2);
        }
        return toNumpy(std::move(kept));
      },
      py::arg("offsets").noconvert(), py::arg("measurements").noconvert(),
      py::arg("chi2_per_ndf").noconvert(), py::arg("maximum_shared_hits"),
      py::arg("maximum_iterations"), py::arg("n_measurements_min"));
}
