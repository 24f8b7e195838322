#include <cstdint>
#include <span>
#include <tuple>
#include <vector>

#include "helixkit/Seeding/TripletSeeder.hpp"
#include "pybind.hpp"

namespace {

using helixkit::TripletSeeder;
using helixkit::python::CArray;
using helixkit::python::requireVector;
using helixkit::python::toNumpy;
using helixkit::python::toNumpy2D;

TripletSeeder::SpacePoints spacePoints(const CArray<float>& x,
                                       const CArray<float>& y,
                                       const CArray<float>& z,
                                       const CArray<float>& varR,
                                       const CArray<float>& varZ) {
  const auto sx = requireVector(x, "x");
  const std::size_t n = sx.size();
  return {sx, requireVector(y, "y", n), requireVector(z, "z", n),
          requireVector(varR, "var_r", n), requireVector(varZ, "var_z", n)};
}

py::tuple toPython(TripletSeeder::Seeds&& s) {
  return py::make_tuple(toNumpy2D(std::move(s.triplets), 3),
                        toNumpy(std::move(s.zVertex)),
                        toNumpy(std::move(s.quality)));
}

}  // namespace

void bindSeeding(py::module_& m) {
  using Range = helixkit::SeedConfirmationRange;
  py::class_<Range>(m, "SeedConfirmationRange",
                    "Seed-confirmation parameters of one detector region "
                    "(ACTS SeedConfirmationRangeConfig); lengths in mm.")
      .def(py::init<>())
      .def_readwrite("z_min_seed_conf", &Range::zMinSeedConf)
      .def_readwrite("z_max_seed_conf", &Range::zMaxSeedConf)
      .def_readwrite("r_max_seed_conf", &Range::rMaxSeedConf)
      .def_readwrite("n_top_for_large_r", &Range::nTopForLargeR)
      .def_readwrite("n_top_for_small_r", &Range::nTopForSmallR)
      .def_readwrite("seed_conf_min_bottom_radius",
                     &Range::seedConfMinBottomRadius)
      .def_readwrite("seed_conf_max_z_origin", &Range::seedConfMaxZOrigin)
      .def_readwrite("min_impact_seed_conf", &Range::minImpactSeedConf);

  using Cfg = TripletSeeder::Config;
  py::class_<Cfg>(m, "TripletSeederConfig",
                  "Native configuration of the grid triplet seeder; see "
                  "helixkit.seeding.SeedFinderConfig.")
      .def(py::init<>())
      .def_readwrite("b_field_z", &Cfg::bFieldZ)
      .def_readwrite("min_pt", &Cfg::minPt)
      .def_readwrite("cot_theta_max", &Cfg::cotThetaMax)
      .def_readwrite("impact_max", &Cfg::impactMax)
      .def_readwrite("delta_r_min", &Cfg::deltaRMin)
      .def_readwrite("delta_r_max", &Cfg::deltaRMax)
      .def_readwrite("delta_r_min_top", &Cfg::deltaRMinTop)
      .def_readwrite("delta_r_max_top", &Cfg::deltaRMaxTop)
      .def_readwrite("delta_r_min_bottom", &Cfg::deltaRMinBottom)
      .def_readwrite("delta_r_max_bottom", &Cfg::deltaRMaxBottom)
      .def_readwrite("r_min", &Cfg::rMin)
      .def_readwrite("r_max", &Cfg::rMax)
      .def_readwrite("z_min", &Cfg::zMin)
      .def_readwrite("z_max", &Cfg::zMax)
      .def_readwrite("phi_bin_deflection_coverage",
                     &Cfg::phiBinDeflectionCoverage)
      .def_readwrite("max_phi_bins", &Cfg::maxPhiBins)
      .def_readwrite("num_phi_neighbors", &Cfg::numPhiNeighbors)
      .def_readwrite("z_bin_edges", &Cfg::zBinEdges)
      .def_readwrite("z_bin_neighbors_top", &Cfg::zBinNeighborsTop)
      .def_readwrite("z_bin_neighbors_bottom", &Cfg::zBinNeighborsBottom)
      .def_readwrite("z_bins_custom_looping", &Cfg::zBinsCustomLooping)
      .def_readwrite("r_min_middle", &Cfg::rMinMiddle)
      .def_readwrite("r_max_middle", &Cfg::rMaxMiddle)
      .def_readwrite("use_variable_middle_sp_range",
                     &Cfg::useVariableMiddleSPRange)
      .def_readwrite("r_range_middle_sp", &Cfg::rRangeMiddleSP)
      .def_readwrite("delta_r_middle_min_sp_range",
                     &Cfg::deltaRMiddleMinSPRange)
      .def_readwrite("delta_r_middle_max_sp_range",
                     &Cfg::deltaRMiddleMaxSPRange)
      .def_readwrite("delta_z_min", &Cfg::deltaZMin)
      .def_readwrite("delta_z_max", &Cfg::deltaZMax)
      .def_readwrite("interaction_point_cut", &Cfg::interactionPointCut)
      .def_readwrite("collision_region_min", &Cfg::collisionRegionMin)
      .def_readwrite("collision_region_max", &Cfg::collisionRegionMax)
      .def_readwrite("helix_cut_tolerance", &Cfg::helixCutTolerance)
      .def_readwrite("sigma_scattering", &Cfg::sigmaScattering)
      .def_readwrite("rad_length_per_seed", &Cfg::radLengthPerSeed)
      .def_readwrite("delta_inv_helix_diameter", &Cfg::deltaInvHelixDiameter)
      .def_readwrite("filter_delta_r_min", &Cfg::filterDeltaRMin)
      .def_readwrite("compat_seed_weight", &Cfg::compatSeedWeight)
      .def_readwrite("impact_weight_factor", &Cfg::impactWeightFactor)
      .def_readwrite("z_origin_weight_factor", &Cfg::zOriginWeightFactor)
      .def_readwrite("max_seeds_per_spm", &Cfg::maxSeedsPerSpM)
      .def_readwrite("compat_seed_limit", &Cfg::compatSeedLimit)
      .def_readwrite("seed_weight_increment", &Cfg::seedWeightIncrement)
      .def_readwrite("num_seed_increment", &Cfg::numSeedIncrement)
      .def_readwrite("abs_delta_eta_weight_factor",
                     &Cfg::absDeltaEtaWeightFactor)
      .def_readwrite("abs_delta_eta_min_impact", &Cfg::absDeltaEtaMinImpact)
      .def_readwrite("seed_confirmation", &Cfg::seedConfirmation)
      .def_readwrite("central_seed_confirmation_range",
                     &Cfg::centralSeedConfirmationRange)
      .def_readwrite("forward_seed_confirmation_range",
                     &Cfg::forwardSeedConfirmationRange)
      .def_readwrite("max_seeds_per_spm_conf", &Cfg::maxSeedsPerSpMConf)
      .def_readwrite("max_quality_seeds_per_spm_conf",
                     &Cfg::maxQualitySeedsPerSpMConf)
      .def_readwrite("use_delta_r_instead_of_top_radius",
                     &Cfg::useDeltaRinsteadOfTopRadius)
      .def("validate", &Cfg::validate);

  m.def(
      "seeding_grid_info",
      [](const Cfg& cfg) {
        const TripletSeeder seeder(cfg);
        return py::make_tuple(seeder.numPhiBins(), seeder.zEdges());
      },
      py::arg("config"),
      "(number of phi bins, z bin edges) of the seeding grid for a config.");

  m.def(
      "find_seeds",
      [](const CArray<float>& x, const CArray<float>& y, const CArray<float>& z,
         const CArray<float>& varR, const CArray<float>& varZ, const Cfg& cfg,
         unsigned nThreads) {
        const auto sps = spacePoints(x, y, z, varR, varZ);
        TripletSeeder::Seeds seeds;
        {
          py::gil_scoped_release release;
          seeds = TripletSeeder(cfg).createSeeds(sps, nThreads);
        }
        return toPython(std::move(seeds));
      },
      py::arg("x").noconvert(), py::arg("y").noconvert(),
      py::arg("z").noconvert(), py::arg("var_r").noconvert(),
      py::arg("var_z").noconvert(), py::arg("config"), py::arg("n_threads"),
      "Grid triplet seeding of float32 space points -> (triplets (M,3) int64, "
      "z_vertex, quality).");

  m.def(
      "find_seeds_subset",
      [](const CArray<float>& x, const CArray<float>& y, const CArray<float>& z,
         const CArray<float>& varR, const CArray<float>& varZ,
         const CArray<std::uint32_t>& subset, const Cfg& cfg,
         unsigned nThreads) {
        const auto sps = spacePoints(x, y, z, varR, varZ);
        const auto sub = requireVector(subset, "subset");
        TripletSeeder::Seeds seeds;
        {
          py::gil_scoped_release release;
          seeds = TripletSeeder(cfg).createSeeds(sps, sub, nThreads);
        }
        return toPython(std::move(seeds));
      },
      py::arg("x").noconvert(), py::arg("y").noconvert(),
      py::arg("z").noconvert(), py::arg("var_r").noconvert(),
      py::arg("var_z").noconvert(), py::arg("subset").noconvert(),
      py::arg("config"), py::arg("n_threads"),
      "Seed only the listed space points; indices refer to the full arrays.");

  m.def(
      "find_seeds_buckets",
      [](const CArray<float>& x, const CArray<float>& y, const CArray<float>& z,
         const CArray<float>& varR, const CArray<float>& varZ,
         const std::vector<CArray<std::uint32_t>>& buckets, const Cfg& cfg,
         unsigned nThreads) {
        const auto sps = spacePoints(x, y, z, varR, varZ);
        std::vector<std::span<const std::uint32_t>> views;
        views.reserve(buckets.size());
        for (const auto& b : buckets) {
          views.push_back(requireVector(b, "bucket"));
        }
        std::vector<TripletSeeder::Seeds> seeds;
        {
          py::gil_scoped_release release;
          seeds = TripletSeeder(cfg).createSeedsInBuckets(sps, views, nThreads);
        }
        py::list out;
        for (auto& s : seeds) {
          out.append(toPython(std::move(s)));
        }
        return out;
      },
      py::arg("x").noconvert(), py::arg("y").noconvert(),
      py::arg("z").noconvert(), py::arg("var_r").noconvert(),
      py::arg("var_z").noconvert(), py::arg("buckets"), py::arg("config"),
      py::arg("n_threads"),
      "Seed each bucket (uint32 index array) independently, in parallel over "
      "buckets; one (triplets, z_vertex, quality) tuple per bucket.");
}
