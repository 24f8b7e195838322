# Generated with pybind11-stubgen from the built module; regenerate after changing bindings/.
"""
helixkit native kernels (internal; use the helixkit.* modules)
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['AnnoyForest', 'DbscanConfig', 'KalmanFitterConfig', 'KalmanSmoother', 'NeighborGraphConfig', 'PixelClusterizerConfig', 'SeedConfirmationRange', 'SurfaceSet', 'TripletSeederConfig', 'cluster_pixels', 'dbscan', 'dbscan_graph', 'estimate_perigee_from_seeds', 'find_seeds', 'find_seeds_buckets', 'find_seeds_subset', 'hardware_threads', 'hashing_annoy_buckets', 'hashing_buckets', 'hashing_embedding', 'hashing_exact_phi_neighbours', 'hashing_merge', 'hashing_query_cells', 'hashing_query_layer', 'hashing_seed', 'kalman_fit', 'knn_graph', 'lookup_ids', 'parse_numeric_csv', 'perigee_from_momenta', 'radius_graph', 'seeding_grid_info', 'units']
class SeedConfirmationRange:
    """
    Seed-confirmation parameters of one detector region (ACTS SeedConfirmationRangeConfig); lengths in mm.
    """
    def __init__(self) -> None:
        ...
    @property
    def min_impact_seed_conf(self) -> float:
        ...
    @min_impact_seed_conf.setter
    def min_impact_seed_conf(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def n_top_for_large_r(self) -> int:
        ...
    @n_top_for_large_r.setter
    def n_top_for_large_r(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def n_top_for_small_r(self) -> int:
        ...
    @n_top_for_small_r.setter
    def n_top_for_small_r(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def r_max_seed_conf(self) -> float:
        ...
    @r_max_seed_conf.setter
    def r_max_seed_conf(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def seed_conf_max_z_origin(self) -> float:
        ...
    @seed_conf_max_z_origin.setter
    def seed_conf_max_z_origin(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def seed_conf_min_bottom_radius(self) -> float:
        ...
    @seed_conf_min_bottom_radius.setter
    def seed_conf_min_bottom_radius(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def z_max_seed_conf(self) -> float:
        ...
    @z_max_seed_conf.setter
    def z_max_seed_conf(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def z_min_seed_conf(self) -> float:
        ...
    @z_min_seed_conf.setter
    def z_min_seed_conf(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class TripletSeederConfig:
    """
    Native configuration of the grid triplet seeder; see helixkit.seeding.SeedFinderConfig.
    """
    central_seed_confirmation_range: SeedConfirmationRange
    forward_seed_confirmation_range: SeedConfirmationRange
    interaction_point_cut: bool
    seed_confirmation: bool
    use_delta_r_instead_of_top_radius: bool
    use_variable_middle_sp_range: bool
    def __init__(self) -> None:
        ...
    def validate(self) -> None:
        ...
    @property
    def abs_delta_eta_min_impact(self) -> float:
        ...
    @abs_delta_eta_min_impact.setter
    def abs_delta_eta_min_impact(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def abs_delta_eta_weight_factor(self) -> float:
        ...
    @abs_delta_eta_weight_factor.setter
    def abs_delta_eta_weight_factor(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def b_field_z(self) -> float:
        ...
    @b_field_z.setter
    def b_field_z(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def collision_region_max(self) -> float:
        ...
    @collision_region_max.setter
    def collision_region_max(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def collision_region_min(self) -> float:
        ...
    @collision_region_min.setter
    def collision_region_min(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def compat_seed_limit(self) -> int:
        ...
    @compat_seed_limit.setter
    def compat_seed_limit(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def compat_seed_weight(self) -> float:
        ...
    @compat_seed_weight.setter
    def compat_seed_weight(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def cot_theta_max(self) -> float:
        ...
    @cot_theta_max.setter
    def cot_theta_max(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def delta_inv_helix_diameter(self) -> float:
        ...
    @delta_inv_helix_diameter.setter
    def delta_inv_helix_diameter(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def delta_r_max(self) -> float:
        ...
    @delta_r_max.setter
    def delta_r_max(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def delta_r_max_bottom(self) -> float:
        ...
    @delta_r_max_bottom.setter
    def delta_r_max_bottom(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def delta_r_max_top(self) -> float:
        ...
    @delta_r_max_top.setter
    def delta_r_max_top(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def delta_r_middle_max_sp_range(self) -> float:
        ...
    @delta_r_middle_max_sp_range.setter
    def delta_r_middle_max_sp_range(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def delta_r_middle_min_sp_range(self) -> float:
        ...
    @delta_r_middle_min_sp_range.setter
    def delta_r_middle_min_sp_range(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def delta_r_min(self) -> float:
        ...
    @delta_r_min.setter
    def delta_r_min(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def delta_r_min_bottom(self) -> float:
        ...
    @delta_r_min_bottom.setter
    def delta_r_min_bottom(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def delta_r_min_top(self) -> float:
        ...
    @delta_r_min_top.setter
    def delta_r_min_top(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def delta_z_max(self) -> float:
        ...
    @delta_z_max.setter
    def delta_z_max(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def delta_z_min(self) -> float:
        ...
    @delta_z_min.setter
    def delta_z_min(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def filter_delta_r_min(self) -> float:
        ...
    @filter_delta_r_min.setter
    def filter_delta_r_min(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def helix_cut_tolerance(self) -> float:
        ...
    @helix_cut_tolerance.setter
    def helix_cut_tolerance(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def impact_max(self) -> float:
        ...
    @impact_max.setter
    def impact_max(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def impact_weight_factor(self) -> float:
        ...
    @impact_weight_factor.setter
    def impact_weight_factor(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def max_phi_bins(self) -> int:
        ...
    @max_phi_bins.setter
    def max_phi_bins(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def max_quality_seeds_per_spm_conf(self) -> int:
        ...
    @max_quality_seeds_per_spm_conf.setter
    def max_quality_seeds_per_spm_conf(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def max_seeds_per_spm(self) -> int:
        ...
    @max_seeds_per_spm.setter
    def max_seeds_per_spm(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def max_seeds_per_spm_conf(self) -> int:
        ...
    @max_seeds_per_spm_conf.setter
    def max_seeds_per_spm_conf(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def min_pt(self) -> float:
        ...
    @min_pt.setter
    def min_pt(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def num_phi_neighbors(self) -> int:
        ...
    @num_phi_neighbors.setter
    def num_phi_neighbors(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def num_seed_increment(self) -> float:
        ...
    @num_seed_increment.setter
    def num_seed_increment(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def phi_bin_deflection_coverage(self) -> int:
        ...
    @phi_bin_deflection_coverage.setter
    def phi_bin_deflection_coverage(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def r_max(self) -> float:
        ...
    @r_max.setter
    def r_max(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def r_max_middle(self) -> float:
        ...
    @r_max_middle.setter
    def r_max_middle(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def r_min(self) -> float:
        ...
    @r_min.setter
    def r_min(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def r_min_middle(self) -> float:
        ...
    @r_min_middle.setter
    def r_min_middle(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def r_range_middle_sp(self) -> list[tuple[float, float]]:
        ...
    @r_range_middle_sp.setter
    def r_range_middle_sp(self, arg0: collections.abc.Sequence[tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]]) -> None:
        ...
    @property
    def rad_length_per_seed(self) -> float:
        ...
    @rad_length_per_seed.setter
    def rad_length_per_seed(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def seed_weight_increment(self) -> float:
        ...
    @seed_weight_increment.setter
    def seed_weight_increment(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def sigma_scattering(self) -> float:
        ...
    @sigma_scattering.setter
    def sigma_scattering(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def z_bin_edges(self) -> list[float]:
        ...
    @z_bin_edges.setter
    def z_bin_edges(self, arg0: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def z_bin_neighbors_bottom(self) -> list[tuple[int, int]]:
        ...
    @z_bin_neighbors_bottom.setter
    def z_bin_neighbors_bottom(self, arg0: collections.abc.Sequence[tuple[typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex]]) -> None:
        ...
    @property
    def z_bin_neighbors_top(self) -> list[tuple[int, int]]:
        ...
    @z_bin_neighbors_top.setter
    def z_bin_neighbors_top(self, arg0: collections.abc.Sequence[tuple[typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex]]) -> None:
        ...
    @property
    def z_bins_custom_looping(self) -> list[int]:
        ...
    @z_bins_custom_looping.setter
    def z_bins_custom_looping(self, arg0: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> None:
        ...
    @property
    def z_max(self) -> float:
        ...
    @z_max.setter
    def z_max(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def z_min(self) -> float:
        ...
    @z_min.setter
    def z_min(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def z_origin_weight_factor(self) -> float:
        ...
    @z_origin_weight_factor.setter
    def z_origin_weight_factor(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class AnnoyForest:
    """
    Annoy's random-projection forest (two-means splits), Euclidean metric,
    implemented in C++: build once, then answer many item queries per call.
    
    Parameters
    ----------
    points : (n, d) array of float32 or float64
        Finite coordinates; float64 is converted to float32 once.
    n_trees : int
        Number of trees (>= 1).
    seed : int
        Seed of the per-tree random streams; the forest depends on nothing else.
    leaf_size : int
        Most items per leaf; 0 = automatic.
    n_threads : int
        Build threads (trees in parallel); 0 = all cores. The forest does not
        depend on it.
    """
    def __init__(self, points: typing.Any, n_trees: typing.SupportsInt | typing.SupportsIndex = 2, seed: typing.SupportsInt | typing.SupportsIndex = 123456789, leaf_size: typing.SupportsInt | typing.SupportsIndex = 0, n_threads: typing.SupportsInt | typing.SupportsIndex = 1) -> None:
        ...
    def query_items(self, items: typing.Any, k: typing.SupportsInt | typing.SupportsIndex, search_k: typing.SupportsInt | typing.SupportsIndex = -1, n_threads: typing.SupportsInt | typing.SupportsIndex = 0, sorted: bool = True) -> numpy.typing.NDArray[numpy.uint32]:
        """
        Approximate k nearest neighbours of stored items (each item included).
        
        Parameters
        ----------
        items : 1-D array of int
            Query item indices, any integer dtype, each in [0, size).
        k : int
            Neighbours per query (>= 1); min(k, size) are returned.
        search_k : int
            Candidates inspected per query; <= 0 means n_trees * k (Annoy's default).
        n_threads : int
            Query threads; 0 = all cores. The result does not depend on it.
        sorted : bool
            False: each row holds the same neighbours in an unspecified (but
            deterministic) order, without the final sort (faster).
        
        Returns
        -------
        (len(items), min(k, size)) uint32 array, each row sorted by (distance, index) unless sorted is False.
        """
    @property
    def dim(self) -> int:
        ...
    @property
    def leaf_size(self) -> int:
        ...
    @property
    def n_nodes(self) -> int:
        ...
    @property
    def n_trees(self) -> int:
        ...
    @property
    def size(self) -> int:
        ...
class NeighborGraphConfig:
    loop: bool
    def __init__(self) -> None:
        ...
    def validate(self) -> None:
        ...
    @property
    def k(self) -> int:
        ...
    @k.setter
    def k(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def leaf_size(self) -> int:
        ...
    @leaf_size.setter
    def leaf_size(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def max_neighbors(self) -> int:
        ...
    @max_neighbors.setter
    def max_neighbors(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def n_threads(self) -> int:
        ...
    @n_threads.setter
    def n_threads(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def radius(self) -> float:
        ...
    @radius.setter
    def radius(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class DbscanConfig:
    def __init__(self) -> None:
        ...
    def validate(self) -> None:
        ...
    @property
    def epsilon(self) -> float:
        ...
    @epsilon.setter
    def epsilon(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def min_points(self) -> int:
        ...
    @min_points.setter
    def min_points(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def n_threads(self) -> int:
        ...
    @n_threads.setter
    def n_threads(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
class PixelClusterizerConfig:
    def __init__(self) -> None:
        ...
    def validate(self) -> None:
        ...
    @property
    def connectivity(self) -> int:
        ...
    @connectivity.setter
    def connectivity(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def n_threads(self) -> int:
        ...
    @n_threads.setter
    def n_threads(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
class SurfaceSet:
    def __init__(self, type: numpy.typing.NDArray[numpy.int8], center: numpy.typing.NDArray[numpy.float64], rotation: numpy.typing.NDArray[numpy.float64], radius: numpy.typing.NDArray[numpy.float64], bounds: numpy.typing.NDArray[numpy.float64], thickness_x0: numpy.typing.NDArray[numpy.float64]) -> None:
        ...
    def __len__(self) -> int:
        ...
    def space_points_to_local(self, surface_id: numpy.typing.NDArray[numpy.int32], xyz: numpy.typing.NDArray[numpy.float64], cov: numpy.typing.NDArray[numpy.float64]) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
        ...
class KalmanSmoother:
    """
    Members:
    
      MBF
    
      RTS
    """
    MBF: typing.ClassVar[KalmanSmoother]
    RTS: typing.ClassVar[KalmanSmoother]
    __members__: typing.ClassVar[dict[str, KalmanSmoother]]
    @typing.overload
    def __eq__(self, other: KalmanSmoother) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: KalmanSmoother) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class KalmanFitterConfig:
    count_holes: bool
    energy_loss: bool
    multiple_scattering: bool
    smoother: KalmanSmoother
    store_states: bool
    def __init__(self) -> None:
        ...
    def validate(self) -> None:
        ...
    @property
    def b_field_z(self) -> float:
        ...
    @b_field_z.setter
    def b_field_z(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def beam_x(self) -> float:
        ...
    @beam_x.setter
    def beam_x(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def beam_y(self) -> float:
        ...
    @beam_y.setter
    def beam_y(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def energy_loss_per_x0(self) -> float:
        ...
    @energy_loss_per_x0.setter
    def energy_loss_per_x0(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def mass(self) -> float:
        ...
    @mass.setter
    def mass(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def min_measurements(self) -> int:
        ...
    @min_measurements.setter
    def min_measurements(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def n_threads(self) -> int:
        ...
    @n_threads.setter
    def n_threads(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def outlier_chi2_cut(self) -> float:
        ...
    @outlier_chi2_cut.setter
    def outlier_chi2_cut(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
def _parallel_collect_check(n: typing.SupportsInt | typing.SupportsIndex, chunk: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.int64]:
    ...
@typing.overload
def cluster_pixels(module: numpy.typing.NDArray[numpy.int64], row: numpy.typing.NDArray[numpy.int32], col: numpy.typing.NDArray[numpy.int32], charge: numpy.typing.NDArray[numpy.float32], config: PixelClusterizerConfig) -> tuple:
    """
    Connected components of fired pixels per module -> (labels, module, size, size_row, size_col, charge, row, col).
    """
@typing.overload
def cluster_pixels(module: numpy.typing.NDArray[numpy.int64], row: numpy.typing.NDArray[numpy.int32], col: numpy.typing.NDArray[numpy.int32], charge: numpy.typing.NDArray[numpy.float64], config: PixelClusterizerConfig) -> tuple:
    """
    Connected components of fired pixels per module -> (labels, module, size, size_row, size_col, charge, row, col).
    """
@typing.overload
def dbscan(x: numpy.typing.NDArray[numpy.float32], config: DbscanConfig) -> numpy.typing.NDArray[numpy.int32]:
    ...
@typing.overload
def dbscan(x: numpy.typing.NDArray[numpy.float64], config: DbscanConfig) -> numpy.typing.NDArray[numpy.int32]:
    ...
@typing.overload
def dbscan_graph(offsets: numpy.typing.NDArray[numpy.int64], neighbors: numpy.typing.NDArray[numpy.int64], distances: numpy.typing.NDArray[numpy.float32], config: DbscanConfig) -> numpy.typing.NDArray[numpy.int32]:
    ...
@typing.overload
def dbscan_graph(offsets: numpy.typing.NDArray[numpy.int64], neighbors: numpy.typing.NDArray[numpy.int64], distances: numpy.typing.NDArray[numpy.float64], config: DbscanConfig) -> numpy.typing.NDArray[numpy.int32]:
    ...
def estimate_perigee_from_seeds(bottom: numpy.typing.NDArray[numpy.float64], middle: numpy.typing.NDArray[numpy.float64], top: numpy.typing.NDArray[numpy.float64], b_field_z: typing.SupportsFloat | typing.SupportsIndex, beam_x: typing.SupportsFloat | typing.SupportsIndex, beam_y: typing.SupportsFloat | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.int8]]:
    ...
def find_seeds(x: numpy.typing.NDArray[numpy.float32], y: numpy.typing.NDArray[numpy.float32], z: numpy.typing.NDArray[numpy.float32], var_r: numpy.typing.NDArray[numpy.float32], var_z: numpy.typing.NDArray[numpy.float32], config: TripletSeederConfig, n_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple:
    """
    Grid triplet seeding of float32 space points -> (triplets (M,3) int64, z_vertex, quality).
    """
def find_seeds_buckets(x: numpy.typing.NDArray[numpy.float32], y: numpy.typing.NDArray[numpy.float32], z: numpy.typing.NDArray[numpy.float32], var_r: numpy.typing.NDArray[numpy.float32], var_z: numpy.typing.NDArray[numpy.float32], buckets: collections.abc.Sequence[typing.Annotated[numpy.typing.ArrayLike, numpy.uint32]], config: TripletSeederConfig, n_threads: typing.SupportsInt | typing.SupportsIndex) -> list:
    """
    Seed each bucket (uint32 index array) independently, in parallel over buckets; one (triplets, z_vertex, quality) tuple per bucket.
    """
def find_seeds_subset(x: numpy.typing.NDArray[numpy.float32], y: numpy.typing.NDArray[numpy.float32], z: numpy.typing.NDArray[numpy.float32], var_r: numpy.typing.NDArray[numpy.float32], var_z: numpy.typing.NDArray[numpy.float32], subset: numpy.typing.NDArray[numpy.uint32], config: TripletSeederConfig, n_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple:
    """
    Seed only the listed space points; indices refer to the full arrays.
    """
def hardware_threads() -> int:
    """
    Number of threads used when n_threads=0.
    """
def hashing_embedding(x: numpy.typing.NDArray[numpy.float32], y: numpy.typing.NDArray[numpy.float32], z: numpy.typing.NDArray[numpy.float32], metric: str) -> numpy.typing.NDArray[numpy.float32]:
    """
    (n, 2) or (n, 3) float32 embedding of the metric: cos phi, sin phi [, eta] (HashingSeeder::embedding).
    """
def hashing_query_cells(x: numpy.typing.NDArray[numpy.float32], y: numpy.typing.NDArray[numpy.float32], z: numpy.typing.NDArray[numpy.float32], queries: numpy.typing.NDArray[numpy.uint32], phi_bins: typing.SupportsInt | typing.SupportsIndex, z_bins: typing.SupportsInt | typing.SupportsIndex, layer_z_max: typing.SupportsFloat | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.int64]:
    """
    Cell of each query point, phi bin * max(z_bins, 1) + z bin (HashingSeeder::queryCells).
    """
def hashing_query_layer(x: numpy.typing.NDArray[numpy.float32], y: numpy.typing.NDArray[numpy.float32], z: numpy.typing.NDArray[numpy.float32], layer_r_min: typing.SupportsFloat | typing.SupportsIndex, layer_r_max: typing.SupportsFloat | typing.SupportsIndex, layer_z_max: typing.SupportsFloat | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.uint32]:
    """
    Indices (uint32) of the space points with layer_r_min <= r <= layer_r_max and |z| <= layer_z_max (HashingSeeder::queryLayer).
    """
def hashing_annoy_buckets(x: numpy.typing.NDArray[numpy.float32], y: numpy.typing.NDArray[numpy.float32], z: numpy.typing.NDArray[numpy.float32], queries: numpy.typing.NDArray[numpy.uint32], bucket_size: typing.SupportsInt | typing.SupportsIndex, metric: str, phi_bins: typing.SupportsInt | typing.SupportsIndex, z_bins: typing.SupportsInt | typing.SupportsIndex, n_trees: typing.SupportsInt | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex, search_k: typing.SupportsInt | typing.SupportsIndex, leaf_size: typing.SupportsInt | typing.SupportsIndex, layer_r_min: typing.SupportsFloat | typing.SupportsIndex, layer_r_max: typing.SupportsFloat | typing.SupportsIndex, layer_z_max: typing.SupportsFloat | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.uint64], numpy.typing.NDArray[numpy.uint32], numpy.typing.NDArray[numpy.int64], float, float, float]:
    """
    Annoy buckets in one native call (HashingSeeder::annoyBuckets): (offsets uint64, indices uint32, cells int64, train_s, query_s, buckets_s).
    """
def hashing_buckets(neighbours: numpy.typing.NDArray[numpy.uint32], counts: numpy.typing.NDArray[numpy.int64], cells: numpy.typing.NDArray[numpy.int64], n_points: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.uint64], numpy.typing.NDArray[numpy.uint32], numpy.typing.NDArray[numpy.int64]]:
    """
    Union of the neighbour lists per cell: (offsets uint64, indices uint32, cells int64) in compressed-row form.
    """
def hashing_exact_phi_neighbours(phi: numpy.typing.NDArray[numpy.float64], queries: numpy.typing.NDArray[numpy.uint32], k: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.uint32]:
    """
    Exact k nearest neighbours in periodic phi, flat (query-major), uint32.
    """
def hashing_merge(triplets: numpy.typing.NDArray[numpy.int64], z_vertex: numpy.typing.NDArray[numpy.float32], quality: numpy.typing.NDArray[numpy.float32]) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.float32]]:
    """
    De-duplicate concatenated seeds by (bottom, middle, top).
    """
def hashing_seed(x: numpy.typing.NDArray[numpy.float32], y: numpy.typing.NDArray[numpy.float32], z: numpy.typing.NDArray[numpy.float32], var_r: numpy.typing.NDArray[numpy.float32], var_z: numpy.typing.NDArray[numpy.float32], offsets: numpy.typing.NDArray[numpy.uint64], indices: numpy.typing.NDArray[numpy.uint32], config: TripletSeederConfig, n_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float32], numpy.typing.NDArray[numpy.float32], float, float]:
    """
    Triplet seeding in every bucket, merged and de-duplicated by indices: (triplets, z_vertex, quality, seeding_s, merge_s).
    """
def kalman_fit(surfaces: SurfaceSet, config: KalmanFitterConfig, track_offsets: numpy.typing.NDArray[numpy.int64], surface_id: numpy.typing.NDArray[numpy.int32], measurement: numpy.typing.NDArray[numpy.float64], measurement_cov: numpy.typing.NDArray[numpy.float64], measurement_mask: numpy.typing.NDArray[numpy.int8], initial_params: numpy.typing.NDArray[numpy.float64], initial_cov: numpy.typing.NDArray[numpy.float64], mass: numpy.typing.NDArray[numpy.float64], hole_surfaces: numpy.typing.NDArray[numpy.int32]) -> dict:
    ...
@typing.overload
def knn_graph(x: numpy.typing.NDArray[numpy.float32], query: typing.Any, config: NeighborGraphConfig) -> tuple:
    ...
@typing.overload
def knn_graph(x: numpy.typing.NDArray[numpy.float64], query: typing.Any, config: NeighborGraphConfig) -> tuple:
    ...
def lookup_ids(keys: numpy.typing.NDArray[numpy.int64], queries: numpy.typing.NDArray[numpy.int64], n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.int64]:
    """
    Position of each query in the unique int64 keys (any order), -1 where absent.
    """
def parse_numeric_csv(text: collections.abc.Buffer, offset: typing.SupportsInt | typing.SupportsIndex, types: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], allow_nan: collections.abc.Sequence[bool], n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> typing.Any:
    """
    Parse the numeric CSV body text[offset:] into one array per column (types: 0 int32, 1 int64, 2 uint64, 3 float32, 4 float64, 5 bool as uint8); None when any line is not accepted (the caller's other parser then explains why).
    """
def perigee_from_momenta(position: numpy.typing.NDArray[numpy.float64], momentum: numpy.typing.NDArray[numpy.float64], charge: numpy.typing.NDArray[numpy.float64], b_field_z: typing.SupportsFloat | typing.SupportsIndex, beam_x: typing.SupportsFloat | typing.SupportsIndex, beam_y: typing.SupportsFloat | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.int8]]:
    ...
@typing.overload
def radius_graph(x: numpy.typing.NDArray[numpy.float32], query: typing.Any, config: NeighborGraphConfig) -> tuple:
    ...
@typing.overload
def radius_graph(x: numpy.typing.NDArray[numpy.float64], query: typing.Any, config: NeighborGraphConfig) -> tuple:
    ...
def seeding_grid_info(config: TripletSeederConfig) -> tuple[int, list[float]]:
    """
    (number of phi bins, z bin edges) of the seeding grid for a config.
    """

class units:  # submodule helixkit._core.units
    Gauss: float = 2.99792458e-08
    GeV: float = 1.0
    MeV: float = 0.001
    T: float = 0.000299792458
    TeV: float = 1000.0
    cm: float = 10.0
    e: float = 1.0
    eV: float = 1e-09
    kGauss: float = 2.9979245800000002e-05
    keV: float = 1e-06
    m: float = 1000.0
    mm: float = 1.0
    mrad: float = 0.001
    nm: float = 1e-06
    ns: float = 299.792458
    ps: float = 0.299792458
    rad: float = 1.0
    s: float = 299792458000.0
    um: float = 0.001
