#include "helixkit/EventData/Surface.hpp"
#include "helixkit/Fitting/KalmanFitter.hpp"
#include "helixkit/Fitting/TrackParamsEstimation.hpp"
#include "pybind.hpp"

#include <cstdint>
#include <memory>

namespace {

using helixkit::python::CArray;
using helixkit::python::flat;
using helixkit::python::requireRows;
using helixkit::python::requireVector;
using helixkit::python::toNumpy;
using helixkit::python::toNumpy2D;

/// Require an (n, cols) array and return its flat view.
template <typename T>
std::span<const T> requireCols(const CArray<T>& a, const char* name,
                               std::size_t cols) {
  const auto v = requireRows(a, name);
  if (v.cols != cols) {
    throw std::invalid_argument(std::string(name) + " must have shape (n, " +
                                std::to_string(cols) + "), got (n, " +
                                std::to_string(v.cols) + ")");
  }
  return v.span;
}

/// Reshape a flat n * a * b vector to an (n, a, b) numpy array, no copy.
py::array_t<double> toNumpy3D(std::vector<double>&& v, std::size_t a,
                              std::size_t b) {
  auto arr = toNumpy2D(std::move(v), a * b);
  const auto n = arr.shape(0);
  return arr.reshape({n, static_cast<py::ssize_t>(a),
                      static_cast<py::ssize_t>(b)});
}

}  // namespace

void bindFitting(py::module_& m) {
  using helixkit::KalmanFitter;
  using helixkit::SurfaceSet;
  using Cfg = KalmanFitter::Config;

  py::class_<SurfaceSet, std::shared_ptr<SurfaceSet>>(m, "SurfaceSet")
      .def(py::init([](const CArray<std::int8_t>& type,
                       const CArray<double>& center,
                       const CArray<double>& rotation,
                       const CArray<double>& radius,
                       const CArray<double>& bounds,
                       const CArray<double>& thicknessX0) {
             const auto n = requireVector(type, "type").size();
             requireVector(radius, "radius", n);
             requireVector(thicknessX0, "thickness_x0", n);
             return std::make_shared<SurfaceSet>(
                 flat(type), requireCols(center, "center", 3),
                 requireCols(rotation, "rotation", 9), flat(radius),
                 requireCols(bounds, "bounds", 4), flat(thicknessX0));
           }),
           py::arg("type").noconvert(), py::arg("center").noconvert(),
           py::arg("rotation").noconvert(), py::arg("radius").noconvert(),
           py::arg("bounds").noconvert(), py::arg("thickness_x0").noconvert())
      .def("__len__", &SurfaceSet::size)
      .def(
          "space_points_to_local",
          [](const SurfaceSet& s, const CArray<std::int32_t>& surfaceId,
             const CArray<double>& xyz, const CArray<double>& cov) {
            const auto ids = requireVector(surfaceId, "surface_id");
            const auto pts = requireCols(xyz, "xyz", 3);
            if (cov.ndim() != 3 || cov.shape(1) != 3 || cov.shape(2) != 3) {
              throw std::invalid_argument("cov must have shape (n, 3, 3)");
            }
            std::vector<double> loc;
            std::vector<double> locCov;
            {
              py::gil_scoped_release release;
              s.spacePointsToLocal(ids, pts, flat(cov), loc, locCov);
            }
            return py::make_tuple(toNumpy2D(std::move(loc), 2),
                                  toNumpy2D(std::move(locCov), 3));
          },
          py::arg("surface_id").noconvert(), py::arg("xyz").noconvert(),
          py::arg("cov").noconvert());

  py::enum_<KalmanFitter::Smoother>(m, "KalmanSmoother")
      .value("MBF", KalmanFitter::Smoother::eMbf)
      .value("RTS", KalmanFitter::Smoother::eRts);

  py::class_<Cfg>(m, "KalmanFitterConfig")
      .def(py::init<>())
      .def_readwrite("b_field_z", &Cfg::bFieldZ)
      .def_readwrite("multiple_scattering", &Cfg::multipleScattering)
      .def_readwrite("energy_loss", &Cfg::energyLoss)
      .def_readwrite("mass", &Cfg::mass)
      .def_readwrite("energy_loss_per_x0", &Cfg::energyLossPerX0)
      .def_readwrite("outlier_chi2_cut", &Cfg::outlierChi2Cut)
      .def_readwrite("count_holes", &Cfg::countHoles)
      .def_readwrite("smoother", &Cfg::smoother)
      .def_readwrite("min_measurements", &Cfg::minMeasurements)
      .def_readwrite("beam_x", &Cfg::beamX)
      .def_readwrite("beam_y", &Cfg::beamY)
      .def_readwrite("store_states", &Cfg::storeStates)
      .def_readwrite("n_threads", &Cfg::nThreads)
      .def("validate", &Cfg::validate);

  m.def(
      "kalman_fit",
      [](const SurfaceSet& surfaces, const Cfg& cfg,
         const CArray<std::int64_t>& offsets,
         const CArray<std::int32_t>& surfaceId,
         const CArray<double>& measurement,
         const CArray<double>& measurementCov,
         const CArray<std::int8_t>& mask, const CArray<double>& initialParams,
         const CArray<double>& initialCov, const CArray<double>& mass,
         const CArray<std::int32_t>& holeSurfaces) {
        KalmanFitter::Input in;
        in.trackOffsets = requireVector(offsets, "track_offsets");
        in.surfaceId = requireVector(surfaceId, "surface_id");
        in.measurement = requireCols(measurement, "measurement", 2);
        in.measurementCov = requireCols(measurementCov, "measurement_cov", 3);
        in.measurementMask = requireVector(mask, "measurement_mask");
        in.initialParams = requireCols(initialParams, "initial_params", 5);
        in.initialCov = requireCols(initialCov, "initial_cov", 25);
        in.mass = requireVector(mass, "mass");
        in.holeSurfaces = requireVector(holeSurfaces, "hole_surfaces");
        KalmanFitter::Output o;
        {
          py::gil_scoped_release release;
          o = KalmanFitter(cfg, surfaces).fit(in);
        }
        py::dict d;
        d["params"] = toNumpy2D(std::move(o.params), 5);
        d["cov"] = toNumpy3D(std::move(o.cov), 5, 5);
        d["chi2"] = toNumpy(std::move(o.chi2));
        d["ndf"] = toNumpy(std::move(o.ndf));
        d["n_measurements"] = toNumpy(std::move(o.nMeasurements));
        d["n_outliers"] = toNumpy(std::move(o.nOutliers));
        d["n_holes"] = toNumpy(std::move(o.nHoles));
        d["status"] = toNumpy(std::move(o.status));
        d["measurement_chi2"] = toNumpy(std::move(o.measurementChi2));
        d["outlier"] = toNumpy(std::move(o.outlier));
        if (cfg.storeStates) {
          d["smoothed"] = toNumpy2D(std::move(o.smoothed), 5);
          d["smoothed_cov"] = toNumpy3D(std::move(o.smoothedCov), 5, 5);
        }
        return d;
      },
      py::arg("surfaces"), py::arg("config"),
      py::arg("track_offsets").noconvert(), py::arg("surface_id").noconvert(),
      py::arg("measurement").noconvert(),
      py::arg("measurement_cov").noconvert(),
      py::arg("measurement_mask").noconvert(),
      py::arg("initial_params").noconvert(),
      py::arg("initial_cov").noconvert(), py::arg("mass").noconvert(),
      py::arg("hole_surfaces").noconvert());

  m.def(
      "estimate_perigee_from_seeds",
      [](const CArray<double>& bottom, const CArray<double>& middle,
         const CArray<double>& top, double bFieldZ, double beamX,
         double beamY, unsigned nThreads) {
        const auto b = requireCols(bottom, "bottom", 3);
        const auto mi = requireCols(middle, "middle", 3);
        const auto t = requireCols(top, "top", 3);
        std::vector<double> params;
        std::vector<std::int8_t> status;
        {
          py::gil_scoped_release release;
          helixkit::estimatePerigeeFromSeeds(b, mi, t, bFieldZ, beamX, beamY,
                                             nThreads, params, status);
        }
        return py::make_tuple(toNumpy2D(std::move(params), 5),
                              toNumpy(std::move(status)));
      },
      py::arg("bottom").noconvert(), py::arg("middle").noconvert(),
      py::arg("top").noconvert(), py::arg("b_field_z"), py::arg("beam_x"),
      py::arg("beam_y"), py::arg("n_threads"));

  m.def(
      "perigee_from_momenta",
      [](const CArray<double>& position, const CArray<double>& momentum,
         const CArray<double>& charge, double bFieldZ, double beamX,
         double beamY, unsigned nThreads) {
        const auto pos = requireCols(position, "position", 3);
        const auto mom = requireCols(momentum, "momentum", 3);
        const auto q = requireVector(charge, "charge");
        std::vector<double> params;
        std::vector<std::int8_t> status;
        {
          py::gil_scoped_release release;
          helixkit::perigeeFromMomenta(pos, mom, q, bFieldZ, beamX, beamY,
                                       nThreads, params, status);
        }
        return py::make_tuple(toNumpy2D(std::move(params), 5),
                              toNumpy(std::move(status)));
      },
      py::arg("position").noconvert(), py::arg("momentum").noconvert(),
      py::arg("charge").noconvert(), py::arg("b_field_z"), py::arg("beam_x"),
      py::arg("beam_y"), py::arg("n_threads"));
}
